"""The dashboard's view models: every label and number the page shows comes from these."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hybridstream_operator.dashboard import views
from hybridstream_operator.models.defaults import DEFAULT_METRICS
from hybridstream_operator.models.observations import IntentKind
from hybridstream_operator.models.status import RolloutStatus

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def _obj(status: dict, spec: dict | None = None) -> dict:
    return {"metadata": {"name": "r", "namespace": "ns",
                         "creationTimestamp": "2026-12-02T05:00:00Z"},
            "spec": spec or {}, "status": status}


def test_row_shows_revisions_when_present_and_a_dash_otherwise():
    row = views.rollout_row(_obj({
        "phase": "Cutover", "stepLabel": "cutover 1/2 (50%)", "hybridPercent": 50,
        "message": "walking",
        "stableRevision": {"number": 3, "hash": "1a2b3c4d5e", "image": "hs:1.2",
                           "label": "3 (1.2)"},
    }))
    assert row == {"namespace": "ns", "name": "r", "phase": "Cutover",
                   "step": "cutover 1/2 (50%)", "stable": "#3 1a2b3c4d5e (hs:1.2)",
                   "candidate": "-", "hybridPercent": 50,
                   "created": "2026-12-02T05:00:00Z", "message": "walking"}
    empty = views.rollout_row({"metadata": {"name": "new"}})
    assert (empty["phase"], empty["step"], empty["stable"]) == ("Pending", "-", "-")


def test_rows_are_ordered_by_namespace_then_name():
    objs = [{"metadata": {"name": n, "namespace": ns}} for ns, n in
            (("b", "a"), ("a", "z"), ("a", "b"))]
    assert [(r["namespace"], r["name"]) for r in views.rollout_rows(objs)] == \
        [("a", "b"), ("a", "z"), ("b", "a")]


@pytest.mark.parametrize(("high", "low", "expected"), [
    (0, 0, [(0, 100, "legacy")]),
    (100, 100, [(0, 100, "hybrid")]),
    (50, 50, [(0, 50, "hybrid"), (50, 100, "legacy")]),
    # a handover: hybrid already forwards [0,50) while legacy still covers [25,100)
    (50, 25, [(0, 25, "hybrid"), (25, 50, "both"), (50, 100, "legacy")]),
    # never published by the operator, but shown for what it is
    (25, 50, [(0, 25, "hybrid"), (25, 50, "none"), (50, 100, "legacy")]),
])
def test_routing_segments_cover_every_bucket_once(high, low, expected):
    segments = views.routing_segments(high, low)
    assert [(s["low"], s["high"], s["owner"]) for s in segments] == expected
    assert segments[0]["low"] == 0 and segments[-1]["high"] == 100
    assert all(a["high"] == b["low"] for a, b in itertools.pairwise(segments))
    assert all(s["label"].startswith(f"[{s['low']},{s['high']})") for s in segments)


def test_pods_say_in_words_whether_they_acked_the_generation():
    rows = [views.pod_row({"name": n, "role": "hybrid", "ready": ready, "ack": ack}, 5)
            for n, ready, ack in (("a", True, 5), ("b", True, 4), ("c", False, -1))]
    assert [(r["acked"], r["current"], r["ready"]) for r in rows] == [
        ("acked g5", True, "Ready"), ("behind: acked g4 of g5", False, "Ready"),
        ("not acked", False, "not ready")]


@pytest.mark.parametrize(("condition", "value", "expected"), [
    ("result < 5", "4", 0.8), ("result <= 10", "2.5", 0.25), ("result > 0.9", "1.8", 0.5),
    ("result == 0", "0", None), ("result < 5", None, None), ("result < 0", "1", None),
    ("result > 1", "0", None), ("result < 5", "NaN-ish", None), ("nonsense", "1", None),
])
def test_proximity_to_the_threshold(condition, value, expected):
    assert views.proximity(condition, value) == expected


def test_metric_rows_join_counters_with_the_spec_condition():
    status = RolloutStatus.model_validate({"analysis": {"metrics": [
        {"name": "lag", "passed": 3, "failed": 1, "lastVerdict": "pass", "lastValue": "4.5"},
        {"name": "gone", "lastVerdict": "notApplicable"}]}})
    spec = {"analysis": {"metrics": [{"name": "lag", "query": "x", "condition": "result < 5",
                                      "action": "rollback", "failureLimit": 2}]}}
    lag, gone = views.metric_rows(status, spec)
    assert (lag["condition"], lag["action"], lag["failureLimit"], lag["value"]) == \
        ("result < 5", "rollback", 2, "4.5")
    assert (lag["proximity"], lag["near"], lag["verdict"]) == (0.9, True, "pass")
    assert (lag["passed"], lag["failed"]) == (3, 1)
    # a metric the spec no longer lists still shows its counters
    assert (gone["condition"], gone["verdict"], gone["near"]) == ("-", "not applicable", False)


def test_metric_rows_use_the_default_analysis_when_the_spec_lists_none():
    status = RolloutStatus.model_validate({"analysis": {"metrics": [{"name": "x"}]}})
    assert views.metric_rows(status, {})[0]["verdict"] == "not measured"
    defaults = views.metric_rows(RolloutStatus.model_validate(
        {"analysis": {"metrics": [{"name": m["name"]} for m in DEFAULT_METRICS]}}), {})
    assert defaults and all(r["condition"] != "-" for r in defaults)


def test_timeline_durations_run_to_the_next_entry_and_the_last_to_now():
    at = NOW - timedelta(seconds=100)
    status = RolloutStatus.model_validate({"history": [
        {"phase": "Canary", "at": at.isoformat(), "reason": "started"},
        {"phase": "Cutover", "stepIndex": 0, "at": (at + timedelta(seconds=40)).isoformat(),
         "reason": "promoted"}]})
    rows = views.timeline(status, NOW)
    assert [(r["phase"], r["seconds"], r["current"]) for r in rows] == \
        [("Canary", 40, False), ("Cutover", 60, True)]
    assert rows[1]["stepIndex"] == 0


def test_events_newest_first_and_bounded():
    events = [{"type": "Normal", "reason": f"R{i}", "message": "m",
               "lastTimestamp": f"2026-12-02T05:{i:02d}:00Z"} for i in range(30)]
    rows = views.event_rows(events, limit=5)
    assert [r["reason"] for r in rows] == ["R29", "R28", "R27", "R26", "R25"]
    assert views.event_rows([{"eventTime": "2026-12-02T05:00:00Z"}])[0]["type"] == "Normal"


def test_stream_pod_view_reads_the_status_document_or_says_why_not():
    body = {"mode": "cutover", "ready": True, "routing": {"ackedGeneration": 7},
            "stats": {"forwarded": 12}, "lastEventAgeSeconds": {"hybrid": 0.4, "rest": 9.0},
            "hybrid": {"private": {"connected": True}, "public": {"connected": False},
                       "subscriptions": ["BTCUSDT", "ETHUSDT"]}}
    view = views.stream_pod_view("p", "hybrid", body, None)
    assert view["sockets"] == {"private": "connected", "public": "disconnected"}
    assert (view["subscriptions"], view["lastEventAge"], view["ackedGeneration"]) == (2, 0.4, 7)
    legacy = views.stream_pod_view("l", "legacy", {"mode": "rest", "ready": False}, None)
    assert (legacy["sockets"], legacy["lastEventAge"], legacy["ready"]) == \
        ({}, None, "not ready")
    down = views.stream_pod_view("d", "legacy", None, "503 Service Unavailable")
    assert down["error"] == "503 Service Unavailable"


POSTGRES = {"workload": {"sink": {"type": "postgres"}}}


def test_history_section_only_with_the_postgres_sink():
    none = views.history_view({}, None, None, None)
    assert none == {"configured": False, "orders": [], "executions": [], "message":
                    "no PostgreSQL history sink configured (spec.workload.sink.type is jsonl)"}
    assert not views.history_view({"workload": {"sink": {"type": "redis"}}}, {}, "p", None)[
        "configured"]
    down = views.history_view(POSTGRES, None, "p-1", "503: postgres unavailable: OSError")
    assert (down["configured"], down["pod"], down["error"], down["orders"]) == \
        (True, "p-1", "503: postgres unavailable: OSError", [])
    assert views.history_view(POSTGRES, None, None, None)["error"] == "no answer"


def test_history_rows_from_the_pods_answer():
    body = {"limit": 50, "orders": [
        {"order_id": "o2", "symbol": "ETHUSDT", "side": "Sell", "order_type": "Limit",
         "status": "PartiallyFilled", "qty": "0.2", "price": "2000.5", "avg_price": "2000.5",
         "cum_exec_qty": "0.1", "created_time": 1764651600000,
         "updated_time": 1764651601500, "history": "New>PartiallyFilled"}],
        "executions": [
        {"exec_id": "e1", "order_id": "o2", "symbol": "ETHUSDT", "side": "Sell",
         "exec_price": "2000.5", "exec_qty": "0.1", "exec_fee": "0.11",
         "exec_time": 1764651601000, "source": "hybrid"}]}
    view = views.history_view(POSTGRES, body, "hybrid-0", None)
    assert view["error"] is None and view["pod"] == "hybrid-0"
    assert view["message"] == \
        "the newest 1 orders and 1 executions (up to 50 each), read by hybrid-0"
    assert view["orders"] == [{
        "orderId": "o2", "symbol": "ETHUSDT", "side": "Sell", "type": "Limit", "qty": "0.2",
        "price": "2000.5", "avgPrice": "2000.5", "filled": "0.1", "status": "PartiallyFilled",
        "statuses": "New>PartiallyFilled", "updated": "2025-12-02T05:00:01.500000+00:00"}]
    assert view["executions"] == [{
        "execId": "e1", "orderId": "o2", "symbol": "ETHUSDT", "side": "Sell",
        "price": "2000.5", "qty": "0.1", "fee": "0.11",
        "at": "2025-12-02T05:00:01+00:00", "source": "hybrid"}]


def test_detail_offers_every_intent_and_confirms_the_big_ones():
    none = views.history_view({}, None, None, None)
    detail = views.rollout_detail(_obj({"phase": "Canary"}), [], [], [], NOW, history=none)
    confirm = {a["kind"] for a in detail["actions"] if a["confirm"]}
    assert confirm == {"abort", "promote-full"}
    assert {a["kind"] for a in detail["actions"]} == {k.value for k in IntentKind}
    assert detail["lastFailure"] is None and detail["routing"]["segments"][0]["owner"] == "legacy"
    assert detail["problems"] == {}
    assert detail["history"] is none
    refused = views.rollout_detail(_obj({}), [], [], [], NOW, history=none, problems={
        "pods": "403: pods is forbidden", "events": None})
    assert refused["problems"] == {"pods": "403: pods is forbidden"}


def test_parse_action():
    assert views.parse_action({"kind": "abort", "reason": "bad fills"}) == \
        (IntentKind.ABORT, "bad fills")
    assert views.parse_action({"kind": "promote-full"}) == (IntentKind.PROMOTE_FULL, "")
    for bad in ({"kind": "delete"}, {}, {"kind": "abort", "reason": "x" * 501}):
        with pytest.raises(ValueError):
            views.parse_action(bad)
