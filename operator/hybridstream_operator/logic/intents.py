"""Manual intents and alerts recorded as annotations on the rollout, parsed and built here.

An annotation (not a spec field) because it is not desired state: ``promote`` is an event.
Each carries an ``id`` so the phase machine applies it exactly once even though the
annotation stays on the object and a restarted operator sees it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from hybridstream.contract import API_GROUP

from hybridstream_operator.models.observations import AlertSignal, Intent, IntentKind
from hybridstream_operator.models.status import RolloutStatus

INTENT_ANNOTATION = f"{API_GROUP}/intent"
#: One annotation per firing alert: ``alert.hybridstream.io/<hash of its id>``.
ALERT_PREFIX = f"alert.{API_GROUP}/"


def parse_intent(annotations: Mapping[str, str]) -> Intent | None:
    """The intent annotation as an :class:`Intent`, or None when absent or malformed.

    Accepts JSON ``{"kind": "promote", "id": "...", "reason": "..."}`` (what the kubectl
    plugin writes) or ``kind@id`` for hand-written ``kubectl annotate``.
    """
    raw = annotations.get(INTENT_ANNOTATION)
    if not raw:
        return None
    try:
        if raw.lstrip().startswith("{"):
            data = json.loads(raw)
            return Intent(IntentKind(data["kind"]), str(data["id"]), str(data.get("reason", "")))
        kind, _, ident = raw.partition("@")
        return Intent(IntentKind(kind.strip()), ident.strip() or raw)
    except (ValueError, KeyError, TypeError):
        return None


def build_intent_annotation(kind: IntentKind, now: datetime, reason: str = "") -> dict[str, str]:
    """The annotation patch for an intent; its id is the request time (unique enough for
    humans, and ordered)."""
    body = {"kind": kind.value, "id": now.isoformat(), "reason": reason}
    return {INTENT_ANNOTATION: json.dumps(body, sort_keys=True)}


def alert_key(alert_id: str) -> str:
    """The annotation holding one firing alert: one key per alert, so that two alerts in
    one Alertmanager payload (or two payloads before the next pass) never overwrite each
    other."""
    digest = hashlib.sha256(alert_id.encode()).hexdigest()[:16]
    return f"{ALERT_PREFIX}{digest}"


def parse_alerts(annotations: Mapping[str, str]) -> tuple[AlertSignal, ...]:
    """Every recorded alert, oldest key first; malformed ones are skipped."""
    found = []
    for key in sorted(k for k in annotations if k.startswith(ALERT_PREFIX)):
        try:
            data = json.loads(annotations[key])
            found.append(AlertSignal(str(data["name"]), str(data["id"]),
                                     str(data.get("message", "")),
                                     parse_instant(data.get("startsAt"))))
        except (ValueError, KeyError, TypeError):
            continue
    return tuple(found)


def parse_instant(value: object) -> datetime | None:
    """An RFC 3339 time (Alertmanager's ``startsAt``, nanoseconds truncated) as an aware
    datetime; None when absent, malformed, zoneless or Go's zero time."""
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    if instant.tzinfo is None or instant.year <= 1:
        return None
    return instant


def build_alert_annotation(alert: AlertSignal) -> dict[str, str]:
    """The annotation patch recording a firing alert."""
    body: dict[str, str] = {"name": alert.name, "id": alert.id, "message": alert.message}
    if alert.started_at is not None:
        body["startsAt"] = alert.started_at.isoformat()
    return {alert_key(alert.id): json.dumps(body, sort_keys=True)}


def build_alert_cleanup(annotations: Mapping[str, str],
                        handled: Iterable[str]) -> dict[str, None]:
    """The merge patch removing the annotations of alerts already acted on."""
    done = {alert_key(i) for i in handled}
    return {k: None for k in annotations if k.startswith(ALERT_PREFIX) and k in done}


def pending_request(annotations: Mapping[str, str], status: RolloutStatus) -> bool:
    """A manual intent or an alert recorded and not handled yet."""
    intent = parse_intent(annotations)
    return (intent is not None and intent.id != status.last_intent_id) or any(
        a.id not in status.handled_alerts for a in parse_alerts(annotations))
