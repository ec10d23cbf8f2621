"""Market model: instruments and a seeded random walk of linear tickers (no I/O).

Prices are integers in units of ``10**-decimals`` so a long walk never drifts into float
noise, and every field is kept as the exact string Bybit would send, so a delta is simply
the set of strings that changed this tick (Bybit deltas carry only changed fields, often
without ``markPrice``: docs/bybit-protocol.md section 5).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

#: (base coin, start price, price decimals, tick in units, qty step, min qty)
_KNOWN = (
    ("BTC", 60000.0, 2, 10, "0.001", "0.001"),
    ("ETH", 3000.0, 2, 1, "0.01", "0.01"),
    ("SOL", 150.0, 3, 10, "0.1", "0.1"),
    ("XRP", 0.6, 4, 1, "1", "1"),
    ("DOGE", 0.15, 5, 1, "1", "1"),
    ("ADA", 0.45, 4, 1, "1", "1"),
    ("LINK", 14.0, 3, 1, "0.1", "0.1"),
    ("AVAX", 30.0, 3, 1, "0.1", "0.1"),
    ("DOT", 6.0, 3, 1, "0.1", "0.1"),
    ("LTC", 80.0, 2, 1, "0.1", "0.1"),
)
_FUNDING_PERIOD_MS = 8 * 3600 * 1000
#: Ticker fields that are constant (or "" = not applicable) for a linear perpetual; sent in
#: snapshots, never in deltas, as Bybit does.
_PERPETUAL_CONSTANTS = {
    "deliveryTime": "0", "basisRate": "", "deliveryFeeRate": "", "predictedDeliveryPrice": "",
    "preOpenPrice": "", "preQty": "", "curPreListingPhase": "", "fundingIntervalHour": "8",
    "fundingCap": "0.005", "basisRateYear": "",
}


@dataclass(frozen=True)
class Instrument:
    """A linear USDT perpetual's static description."""

    symbol: str
    base_coin: str
    decimals: int
    tick_units: int
    qty_step: str
    min_qty: str
    start_price: float

    @property
    def tick_size(self) -> str:
        """Tick size as Bybit prints it (``priceFilter.tickSize``)."""
        return f"{self.tick_units / 10 ** self.decimals:.{self.decimals}f}"

    def format_price(self, units: int) -> str:
        """Price string with the instrument's fixed decimals (``"17216.00"``)."""
        return f"{units / 10 ** self.decimals:.{self.decimals}f}"

    def to_units(self, price: Decimal | float | str) -> int:
        """Nearest tick-aligned price in units."""
        units = round(float(price) * 10 ** self.decimals)
        return max(self.tick_units, units - units % self.tick_units)


def build_instruments(count: int, seed: int) -> list[Instrument]:
    """The first ``count`` instruments: well-known coins, then synthetic ``SIMnnnUSDT``."""
    rng = random.Random(seed)
    out = [Instrument(f"{b}USDT", b, d, t, q, m, p) for b, p, d, t, q, m in _KNOWN[:count]]
    for i in range(len(out), count):
        base = f"SIM{i:03d}"
        out.append(Instrument(f"{base}USDT", base, 3, 1, "0.1", "0.1",
                              round(rng.uniform(1.0, 500.0), 3)))
    return out


@dataclass
class TickerState:
    """One symbol's live ticker, as numbers (for the walk) and strings (what is sent)."""

    instrument: Instrument
    last: int
    mark: int
    index: int
    prev24h: int
    high24h: int
    low24h: int
    volume24h: float
    open_interest: float
    fields: dict[str, str] = field(default_factory=dict)
    #: Frozen by the admin API (set/scripted prices): the random walk leaves it alone.
    frozen: bool = False


class Market:
    """All symbols' tickers; ``step()`` advances the walk one tick and returns the deltas."""

    def __init__(self, instruments: list[Instrument], seed: int, now_ms: int) -> None:
        self.instruments = {i.symbol: i for i in instruments}
        self._rng = random.Random(seed)
        self.tickers: dict[str, TickerState] = {}
        for inst in instruments:
            units = inst.to_units(inst.start_price)
            state = TickerState(inst, units, units, units, units, units, units,
                                volume24h=10000.0, open_interest=5000.0)
            state.fields = self._full_fields(state, now_ms)
            self.tickers[inst.symbol] = state

    def _full_fields(self, s: TickerState, now_ms: int) -> dict[str, str]:
        inst = s.instrument
        fmt = inst.format_price
        last_f = s.last / 10 ** inst.decimals
        return {
            "symbol": inst.symbol, "tickDirection": "ZeroPlusTick",
            "price24hPcnt": self._pcnt(s), "lastPrice": fmt(s.last),
            "prevPrice24h": fmt(s.prev24h), "highPrice24h": fmt(s.high24h),
            "lowPrice24h": fmt(s.low24h), "prevPrice1h": fmt(s.prev24h),
            "markPrice": fmt(s.mark), "indexPrice": fmt(s.index),
            "openInterest": f"{s.open_interest:.3f}",
            "openInterestValue": f"{s.open_interest * last_f:.2f}",
            "singleOpenInterest": f"{s.open_interest / 2:.3f}",
            "singleOpenInterestValue": f"{s.open_interest / 2 * last_f:.2f}",
            "turnover24h": f"{s.volume24h * last_f:.4f}", "volume24h": f"{s.volume24h:.3f}",
            "nextFundingTime": str((now_ms // _FUNDING_PERIOD_MS + 1) * _FUNDING_PERIOD_MS),
            "fundingRate": "0.0001",
            "bid1Price": fmt(s.last - inst.tick_units), "bid1Size": "10.000",
            "ask1Price": fmt(s.last), "ask1Size": "10.000",
            **_PERPETUAL_CONSTANTS,
        }

    @staticmethod
    def _pcnt(s: TickerState) -> str:
        return f"{(s.last - s.prev24h) / s.prev24h:.6f}"

    def snapshot(self, symbol: str) -> dict[str, str]:
        """A copy of the full ticker (what a snapshot push and REST tickers carry)."""
        return dict(self.tickers[symbol].fields)

    def mark_price(self, symbol: str) -> Decimal:
        """Current mark price."""
        return Decimal(self.tickers[symbol].fields["markPrice"])

    def fill_price(self, symbol: str, side: str) -> Decimal:
        """Where a market order of ``side`` fills: the best ask for Buy, the best bid for Sell."""
        fields = self.tickers[symbol].fields
        return Decimal(fields["ask1Price"] if side == "Buy" else fields["bid1Price"])

    def step(self) -> dict[str, dict[str, str]]:
        """Advance every unfrozen symbol one tick; return ``{symbol: changed fields}``."""
        out: dict[str, dict[str, str]] = {}
        for symbol, state in self.tickers.items():
            if state.frozen:
                continue
            changed = self._walk(state)
            if changed:
                out[symbol] = changed
        return out

    def _walk(self, s: TickerState) -> dict[str, str]:
        rnd = self._rng.random
        inst = s.instrument
        new: dict[str, str] = {}
        if rnd() < 0.6:
            move = self._rng.choice((-2, -1, -1, 0, 1, 1, 2)) * inst.tick_units
            self._move_last(s, max(inst.tick_units * 2, s.last + move), new)
            s.volume24h += rnd()
            new["volume24h"] = f"{s.volume24h:.3f}"
            new["turnover24h"] = f"{s.volume24h * s.last / 10 ** inst.decimals:.4f}"
        if rnd() < 0.7:
            new["bid1Size" if rnd() < 0.5 else "ask1Size"] = f"{rnd() * 50:.3f}"
        if rnd() < 0.3:
            s.mark = s.last + self._rng.choice((-1, 0, 1)) * inst.tick_units
            new["markPrice"] = inst.format_price(s.mark)
        if rnd() < 0.3:
            s.index = s.last + self._rng.choice((-1, 0, 1)) * inst.tick_units
            new["indexPrice"] = inst.format_price(s.index)
        if rnd() < 0.1:
            s.open_interest = max(1.0, s.open_interest + (rnd() - 0.5) * 10)
            new["openInterest"] = f"{s.open_interest:.3f}"
            new["singleOpenInterest"] = f"{s.open_interest / 2:.3f}"
        return self._commit(s, new)

    def _move_last(self, s: TickerState, units: int, new: dict[str, str]) -> None:
        inst = s.instrument
        if units > s.last:
            new["tickDirection"] = "PlusTick"
        elif units < s.last:
            new["tickDirection"] = "MinusTick"
        s.last = units
        fmt = inst.format_price
        new["lastPrice"] = fmt(units)
        new["ask1Price"] = fmt(units)
        new["bid1Price"] = fmt(units - inst.tick_units)
        new["price24hPcnt"] = self._pcnt(s)
        if units > s.high24h:
            s.high24h = units
            new["highPrice24h"] = fmt(units)
        if units < s.low24h:
            s.low24h = units
            new["lowPrice24h"] = fmt(units)

    @staticmethod
    def _commit(s: TickerState, new: dict[str, str]) -> dict[str, str]:
        fields = s.fields
        changed = {k: v for k, v in new.items() if fields.get(k) != v}
        fields.update(changed)
        return changed

    def set_price(self, symbol: str, price: str | float, freeze: bool = True) -> dict[str, str]:
        """Move last, mark and index to ``price`` (admin API); returns the changed fields.

        ``freeze`` stops the random walk on this symbol so tests can reason about prices."""
        s = self.tickers[symbol]
        s.frozen = freeze
        units = s.instrument.to_units(price)
        new: dict[str, str] = {}
        self._move_last(s, units, new)
        s.mark = s.index = units
        new["markPrice"] = new["indexPrice"] = s.instrument.format_price(units)
        return self._commit(s, new)

    def unfreeze(self, symbol: str) -> None:
        """Let the random walk move ``symbol`` again."""
        self.tickers[symbol].frozen = False
