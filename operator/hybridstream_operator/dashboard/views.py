"""What the dashboard shows, as plain JSON-ready dicts built from Kubernetes objects: pure
functions (no I/O), so every label and every number on the page is a unit test. The
browser only lays these out; it computes nothing but ages."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from hybridstream_operator.models.observations import IntentKind
from hybridstream_operator.models.spec import Analysis
from hybridstream_operator.models.status import RolloutStatus, Verdict

#: Actions whose effect is big enough to ask "are you sure?" in the page first.
CONFIRM = frozenset({IntentKind.ABORT, IntentKind.PROMOTE_FULL})
#: A metric whose last value is this close to its threshold (value/threshold for "<",
#: threshold/value for ">") is flagged "near threshold".
NEAR = 0.8
_CONDITION = re.compile(r"^\s*result\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
#: The history sink type that gives orders and executions to show.
HISTORY_SINK = "postgres"


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def revision_label(revision: Mapping[str, Any] | None) -> str:
    """``#3 1a2b3c4 (image)`` for a ``status.stableRevision``/``candidateRevision`` object,
    ``-`` when the operator does not record it (yet)."""
    if not revision:
        return "-"
    parts = [f"#{revision['number']}" if "number" in revision else "",
             str(revision.get("hash", ""))[:10],
             f"({revision['image']})" if revision.get("image") else ""]
    return " ".join(p for p in parts if p) or "-"


def rollout_row(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the rollout list."""
    raw = obj.get("status") or {}
    st = RolloutStatus.model_validate(raw)
    meta = obj["metadata"]
    return {"namespace": meta.get("namespace", ""), "name": meta["name"],
            "phase": st.phase.value, "step": st.step_label or "-",
            "stable": revision_label(raw.get("stableRevision")),
            "candidate": revision_label(raw.get("candidateRevision")),
            "hybridPercent": st.hybrid_percent, "created": meta.get("creationTimestamp"),
            "message": st.message}


def rollout_rows(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The list, ordered by namespace then name (stable while rows update)."""
    return sorted((rollout_row(o) for o in objects), key=lambda r: (r["namespace"], r["name"]))


def routing_segments(hybrid_high: int, legacy_low: int) -> list[dict[str, Any]]:
    """The 100 buckets split by who forwards them: hybrid ``[0,h)``, legacy ``[l,100)``;
    ``[l,h)`` is forwarded by both during a handover, ``[h,l)`` by nobody (a gap)."""
    bounds = sorted({0, 100, min(max(hybrid_high, 0), 100), min(max(legacy_low, 0), 100)})
    segments = []
    for low, high in itertools.pairwise(bounds):
        hybrid, legacy = high <= hybrid_high, low >= legacy_low
        owner = {(True, True): "both", (True, False): "hybrid", (False, True): "legacy",
                 (False, False): "none"}[(hybrid, legacy)]
        segments.append({"low": low, "high": high, "owner": owner,
                         "label": f"[{low},{high}) {owner if owner != 'none' else 'nobody'}"})
    return segments


def pod_row(pod: Mapping[str, Any], generation: int) -> dict[str, Any]:
    """A stream pod: its role, readiness and whether it acked the published generation.
    ``pod`` is ``{"name", "role", "ready", "ack"}`` (``ack`` -1 when it never acked)."""
    ack = pod["ack"]
    if ack < 0:
        acked = "not acked"
    elif ack >= generation:
        acked = f"acked g{ack}"
    else:
        acked = f"behind: acked g{ack} of g{generation}"
    return {"name": pod["name"], "role": pod["role"],
            "ready": "Ready" if pod["ready"] else "not ready", "ack": ack,
            "acked": acked, "current": ack >= generation}


def routing_view(status: RolloutStatus, pods: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The routing picture: generation, mode, bucket ranges, and which pods acked."""
    r = status.routing
    return {"generation": r.generation, "mode": r.hybrid_mode.value,
            "hybridHigh": r.hybrid_high, "legacyLow": r.legacy_low,
            "publishedAt": _iso(r.published_at),
            "segments": routing_segments(r.hybrid_high, r.legacy_low),
            "pods": sorted((pod_row(p, r.generation) for p in pods),
                           key=lambda p: (p["role"], p["name"]))}


def parse_condition(condition: str) -> tuple[str, float] | None:
    """``result < 5`` as ``("<", 5.0)``; None when it is not that shape."""
    found = _CONDITION.match(condition)
    if not found:
        return None
    try:
        return found.group(1), float(found.group(2))
    except ValueError:
        return None


def proximity(condition: str, value: str | None) -> float | None:
    """How close the last value is to breaking the condition, 1.0 being at the threshold
    (value/threshold for ``<``, threshold/value for ``>``); None for ``==``/``!=``, no
    value, or a zero to divide by."""
    parsed = parse_condition(condition)
    if parsed is None or value is None:
        return None
    op, threshold = parsed
    try:
        number = float(value)
    except ValueError:
        return None
    if op in ("<", "<="):
        return None if threshold == 0 else round(number / threshold, 3)
    if op in (">", ">="):
        return None if number == 0 else round(threshold / number, 3)
    return None


def verdict_label(verdict: Verdict | None) -> str:
    if verdict is None:
        return "not measured"
    return "not applicable" if verdict is Verdict.NOT_APPLICABLE else verdict.value


def metric_rows(status: RolloutStatus, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per metric of the current step: counters, last verdict and value against its
    condition (the spec's metrics, or the default analysis when it lists none)."""
    try:
        analysis = Analysis.model_validate(spec.get("analysis") or {})
        defined = {m.name: m for m in analysis.metrics}
    except ValidationError:
        defined = {}  # the API server validated it; a newer schema must not blank the page
    rows = []
    for m in status.analysis.metrics:
        metric = defined.get(m.name)
        condition = metric.condition.strip() if metric else "-"
        near = proximity(condition, m.last_value)
        rows.append({
            "name": m.name, "condition": condition,
            "action": metric.action.value if metric else "-",
            "kind": metric.kind.value if metric else "-",
            "failureLimit": metric.failure_limit if metric else None,
            "passed": m.passed, "failed": m.failed, "held": m.held,
            "inconclusive": m.inconclusive, "errored": m.errored,
            "notApplicable": m.not_applicable,
            "verdict": verdict_label(m.last_verdict), "value": m.last_value or "-",
            "measuredAt": _iso(m.last_measured_at), "proximity": near,
            "near": near is not None and near >= NEAR})
    return rows


def timeline(status: RolloutStatus, now: datetime) -> list[dict[str, Any]]:
    """The phase history, oldest first, each entry with how long it lasted (the last one
    until ``now``)."""
    entries = status.history
    rows = []
    for i, h in enumerate(entries):
        end = entries[i + 1].at if i + 1 < len(entries) else now
        rows.append({"phase": h.phase.value, "stepIndex": h.step_index, "at": _iso(h.at),
                     "seconds": max(0, int((end - h.at).total_seconds())),
                     "reason": h.reason, "current": i + 1 == len(entries)})
    return rows


def failure_view(status: RolloutStatus) -> dict[str, Any] | None:
    f = status.last_failure
    if f is None:
        return None
    return {"source": f.source, "name": f.name, "value": f.value, "action": f.action,
            "message": f.message, "at": _iso(f.at)}


def event_rows(events: Iterable[Mapping[str, Any]], limit: int = 20) -> list[dict[str, Any]]:
    """Recent Kubernetes Events of the rollout, newest first. ``events`` are API dicts
    (``type``, ``reason``, ``message``, ``count``, ``lastTimestamp``/``eventTime``)."""
    rows = [{"type": e.get("type") or "Normal", "reason": e.get("reason") or "",
             "message": e.get("message") or "", "count": e.get("count") or 1,
             "at": e.get("lastTimestamp") or e.get("eventTime")
             or (e.get("metadata") or {}).get("creationTimestamp")}
            for e in events]
    rows.sort(key=lambda r: r["at"] or "", reverse=True)
    return rows[:limit]


def stream_pod_view(name: str, role: str, body: Mapping[str, Any] | None,
                    error: str | None) -> dict[str, Any]:
    """What one stream pod says about itself (``/api/hybrid/status``): its connections,
    subscriptions and the age of the last exchange message, or why it could not be read."""
    if body is None:
        return {"name": name, "role": role, "error": error or "no answer"}
    hybrid = body.get("hybrid") or {}
    sockets = {side: ("connected" if (hybrid.get(side) or {}).get("connected")
                      else "disconnected") for side in ("private", "public") if side in hybrid}
    ages = body.get("lastEventAgeSeconds") or {}
    return {"name": name, "role": role, "error": None, "mode": body.get("mode", "-"),
            "ready": "Ready" if body.get("ready") else "not ready",
            "sockets": sockets, "subscriptions": len(hybrid.get("subscriptions") or []),
            "lastEventAge": min(ages.values()) if ages else None,
            "ackedGeneration": (body.get("routing") or {}).get("ackedGeneration"),
            "forwarded": (body.get("stats") or {}).get("forwarded", 0)}


def history_configured(spec: Mapping[str, Any]) -> bool:
    """Whether the stream pods write the PostgreSQL history (so they can serve it)."""
    sink = (spec.get("workload") or {}).get("sink") or {}
    return sink.get("type", "jsonl") == HISTORY_SINK


def _ms_iso(ms: Any) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if isinstance(ms, int) else None


def history_view(spec: Mapping[str, Any], body: Mapping[str, Any] | None, pod: str | None,
                 error: str | None) -> dict[str, Any]:
    """The orders and executions section: the newest rows a stream pod read from the
    PostgreSQL history (``/api/hybrid/history``, ``body``), why they could not be read,
    or that no PostgreSQL sink is configured (then nothing was asked)."""
    if not history_configured(spec):
        sink_type = ((spec.get("workload") or {}).get("sink") or {}).get("type", "jsonl")
        return {"configured": False, "message": "no PostgreSQL history sink configured "
                f"(spec.workload.sink.type is {sink_type})", "orders": [], "executions": []}
    if body is None:
        return {"configured": True, "pod": pod, "error": error or "no answer",
                "message": "the PostgreSQL history could not be read", "orders": [],
                "executions": []}
    orders = [{"orderId": o.get("order_id"), "symbol": o.get("symbol"), "side": o.get("side"),
               "type": o.get("order_type"), "qty": o.get("qty"), "price": o.get("price"),
               "avgPrice": o.get("avg_price"), "filled": o.get("cum_exec_qty"),
               "status": o.get("status"), "statuses": o.get("history") or o.get("status"),
               "updated": _ms_iso(o.get("updated_time"))}
              for o in body.get("orders") or []]
    executions = [{"execId": e.get("exec_id"), "orderId": e.get("order_id"),
                   "symbol": e.get("symbol"), "side": e.get("side"),
                   "price": e.get("exec_price"), "qty": e.get("exec_qty"),
                   "fee": e.get("exec_fee"), "at": _ms_iso(e.get("exec_time")),
                   "source": e.get("source")}
                  for e in body.get("executions") or []]
    return {"configured": True, "pod": pod, "error": None,
            "message": f"the newest {len(orders)} orders and {len(executions)} executions "
                       f"(up to {body.get('limit', '?')} each), read by {pod}",
            "orders": orders, "executions": executions}


def rollout_detail(obj: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                   events: Iterable[Mapping[str, Any]],
                   stream_pods: Iterable[Mapping[str, Any]], now: datetime, *,
                   history: Mapping[str, Any],
                   problems: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """Everything the rollout page shows; ``history`` is :func:`history_view`'s;
    ``problems`` says why a part could not be read
    (``{"pods": "403: ...", "events": None}``)."""
    st = RolloutStatus.model_validate(obj.get("status") or {})
    spec = obj.get("spec") or {}
    return {"row": rollout_row(obj), "pausedFrom": st.paused_from.value if st.paused_from
            else None,
            "replicas": {"stable": st.replicas.stable, "candidate": st.replicas.candidate},
            "rollbacks": st.rollbacks, "timeline": timeline(st, now),
            "routing": routing_view(st, pods), "metrics": metric_rows(st, spec),
            "lastFailure": failure_view(st), "events": event_rows(events),
            "streamPods": list(stream_pods), "history": history,
            "problems": {k: v for k, v in (problems or {}).items() if v},
            "actions": [{"kind": k.value, "confirm": k in CONFIRM} for k in IntentKind]}


def parse_action(body: Mapping[str, Any]) -> tuple[IntentKind, str]:
    """A POSTed action ``{"kind": "abort", "reason": "..."}``; ValueError when unknown.
    Confirmation is the page's job; the server only checks the shape."""
    kind = IntentKind(str(body.get("kind", "")))
    reason = str(body.get("reason") or "")
    if len(reason) > 500:
        raise ValueError("reason is longer than 500 characters")
    return kind, reason
