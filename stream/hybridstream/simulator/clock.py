"""Wall clock in Bybit's unit (ms), one definition for every simulator module."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Now, in milliseconds since the epoch."""
    return int(time.time() * 1000)
