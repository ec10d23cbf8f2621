"""A failing rollout says why in ``status.conditions`` and is retried with a capped
exponential backoff; the condition is rewritten only when it changes."""

from __future__ import annotations

from datetime import timedelta

from hybridstream_operator.logic.conditions import (
    RETRY_CAP_SECONDS,
    redact,
    retry_delay,
    set_condition,
)
from rollout_world import T0


def test_backoff_doubles_from_the_interval_up_to_a_minute():
    assert [retry_delay(n, 1.0) for n in range(9)] == [1, 1, 2, 4, 8, 16, 32, 60, 60]
    assert retry_delay(1000, 1.0) == RETRY_CAP_SECONDS  # no overflow, however long


def test_condition_changes_only_on_a_transition():
    failing = set_condition([], False, "APIError", "403 Forbidden: quota", T0)
    (cond,) = failing
    assert (cond.type, cond.status, cond.reason) == ("Reconciled", "False", "APIError")
    # the same failure again: the very same list, so nothing is written
    assert set_condition(failing, False, "APIError", "403 Forbidden: quota",
                         T0 + timedelta(minutes=5)) is failing
    # another failure keeps the transition time; recovery moves it
    other = set_condition(failing, False, "InvalidSpec", "spec: x", T0 + timedelta(minutes=6))
    assert other[0].last_transition_time == T0 and other[0].reason == "InvalidSpec"
    ok = set_condition(other, True, "Reconciled", "", T0 + timedelta(minutes=7))
    assert (ok[0].status, ok[0].last_transition_time) == ("True", T0 + timedelta(minutes=7))


def test_messages_never_carry_url_credentials_and_are_bounded():
    message = redact("POST https://bot:s3cret@hooks.example/x failed " + "x" * 1000)
    assert "s3cret" not in message and "https://***@hooks.example" in message
    assert len(message) <= 300
