"""The ``Reconciled`` condition and the retry cadence of a failing rollout: what a user
sees in ``status.conditions`` (and ``kubectl hsr get NAME``) when a pass keeps failing, and
how often it is retried (capped exponential backoff, not once a second)."""

from __future__ import annotations

import re
from datetime import datetime

from hybridstream_operator.models.status import Condition

RECONCILED = "Reconciled"
#: The longest wait between two attempts of a failing rollout.
RETRY_CAP_SECONDS = 60.0
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")
MESSAGE_LIMIT = 300


def redact(message: str) -> str:
    """A message fit for status, Events and logs: credentials in URLs (a sink or
    Prometheus URL may carry them) masked, and bounded."""
    return _CREDENTIALS.sub(r"\1***@", message)[:MESSAGE_LIMIT]


def retry_delay(failures: int, base: float) -> float:
    """Seconds before the next attempt after ``failures`` consecutive failed passes."""
    if failures <= 0:
        return base
    return min(RETRY_CAP_SECONDS, base * 2 ** (failures - 1))


def set_condition(conditions: list[Condition], ok: bool, reason: str, message: str,
                  now: datetime) -> list[Condition]:
    """The conditions with ``Reconciled`` set; its transition time moves only when its
    status changes, and an unchanged condition leaves the list as it was (no write)."""
    status = "True" if ok else "False"
    previous = next((c for c in conditions if c.type == RECONCILED), None)
    if previous is not None and (previous.status, previous.reason, previous.message) == (
            status, reason, message):
        return conditions
    since = previous.last_transition_time if previous is not None and \
        previous.status == status else now
    updated = Condition(type=RECONCILED, status=status, reason=reason, message=message,
                        last_transition_time=since)
    return [*(c for c in conditions if c.type != RECONCILED), updated]
