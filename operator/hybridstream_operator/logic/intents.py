"""Manual intents and alerts recorded as annotations on the rollout, parsed and built here.

An annotation (not a spec field) because it is not desired state: ``promote`` is an event.
Each carries an ``id`` so the phase machine applies it exactly once even though the
annotation stays on the object and a restarted operator sees it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from hybridstream_operator.models.observations import AlertSignal, Intent, IntentKind
from hybridstream_operator.models.spec import API_GROUP

INTENT_ANNOTATION = f"{API_GROUP}/intent"
ALERT_ANNOTATION = f"{API_GROUP}/alert"


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


def parse_alert(annotations: Mapping[str, str]) -> AlertSignal | None:
    """The alert annotation as an :class:`AlertSignal`, or None."""
    raw = annotations.get(ALERT_ANNOTATION)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return AlertSignal(str(data["name"]), str(data["id"]), str(data.get("message", "")))
    except (ValueError, KeyError, TypeError):
        return None


def build_alert_annotation(alert: AlertSignal) -> dict[str, str]:
    """The annotation patch recording a firing alert."""
    body = {"name": alert.name, "id": alert.id, "message": alert.message}
    return {ALERT_ANNOTATION: json.dumps(body, sort_keys=True)}
