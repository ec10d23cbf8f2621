"""hybridstream: a Bybit position stream that merges private position events with public
mark-price tickers, plus the legacy REST poller it replaces and a local Bybit simulator."""

__version__ = "0.1.0"
