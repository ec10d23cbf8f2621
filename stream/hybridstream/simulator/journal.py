"""Ground-truth journal of every position update the simulator emitted, with its ``seq``.

Tests compare what a client saw with this list to prove nothing was lost or reordered; it
records what the exchange *sent* (or would have sent to a subscriber), independent of
whether any socket was connected at the time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class JournalEntry:
    """One emitted position update."""

    seq: int
    account: str
    symbol: str
    position_idx: int
    side: str
    size: str
    avg_price: str
    updated_ms: int
    cause: str  # orderId of the fill, or "admin:<what>"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (admin API, JSON)."""
        return asdict(self)


class Journal:
    """Append-only list of ``JournalEntry`` with simple queries."""

    def __init__(self) -> None:
        self._entries: list[JournalEntry] = []

    def append(self, entry: JournalEntry) -> None:
        """Record one emitted update."""
        self._entries.append(entry)

    def entries(self, account: str | None = None, symbol: str | None = None,
                since_seq: int | None = None) -> list[JournalEntry]:
        """Entries in emission order, filtered (``since_seq`` is exclusive)."""
        return [e for e in self._entries
                if (account is None or e.account == account)
                and (symbol is None or e.symbol == symbol)
                and (since_seq is None or e.seq > since_seq)]

    def last_seq(self) -> int:
        """Seq of the latest entry (-1 when empty)."""
        return self._entries[-1].seq if self._entries else -1

    def __len__(self) -> int:
        return len(self._entries)
