"""Fault switches the admin API flips and the handlers consult (no I/O here).

Connection-level faults (drop, reset, malformed frames, restart) act at once through the
connection registry; what lives here is the *standing* state: stalled symbols, delays,
rejected auths and forced rate limiting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

ALL = "*"


@dataclass
class FaultState:
    """Standing faults; ``clear()`` returns to a healthy exchange."""

    #: Symbols whose ticker pushes are withheld (``"*"``: all); the market keeps moving and
    #: the withheld changes are delivered as one merged delta when the stall ends.
    stalled: set[str] = field(default_factory=set)
    #: Private topics (``position``, ``order``, ``execution``, ``wallet``) whose pushes are
    #: held back; they are delivered, in order, when the stall ends (a lagging exchange).
    stalled_topics: set[str] = field(default_factory=set)
    #: Extra latency per socket kind (``public``/``private``), in ms.
    delay_ms: dict[str, int] = field(default_factory=lambda: {"public": 0, "private": 0})
    reject_auth_remaining: int = 0
    rate_limit_remaining: int = 0
    rate_limit_until: float = 0.0
    #: Until this monotonic time every WebSocket upgrade is answered 503 (a Bybit WebSocket
    #: outage: REST keeps working).
    websockets_refused_until: float = 0.0

    def websockets_refused(self) -> bool:
        """True while the WebSocket service is out."""
        return time.monotonic() < self.websockets_refused_until

    def is_stalled(self, symbol: str) -> bool:
        """True when ``symbol``'s ticker pushes are withheld."""
        return ALL in self.stalled or symbol in self.stalled

    def consume_auth_rejection(self) -> bool:
        """True when this auth attempt must fail ("Params Error")."""
        if self.reject_auth_remaining > 0:
            self.reject_auth_remaining -= 1
            return True
        return False

    def consume_rate_limit(self) -> bool:
        """True when this signed REST call must get 10006."""
        if time.monotonic() < self.rate_limit_until:
            return True
        if self.rate_limit_remaining > 0:
            self.rate_limit_remaining -= 1
            return True
        return False

    def clear(self) -> None:
        """Back to a healthy exchange."""
        self.stalled.clear()
        self.stalled_topics.clear()
        self.delay_ms.update(public=0, private=0)  # in place: the hubs hold this dict
        self.reject_auth_remaining = 0
        self.rate_limit_remaining = 0
        self.rate_limit_until = 0.0
        self.websockets_refused_until = 0.0
