"""Simulator configuration: one frozen pydantic model, shared by the CLI and the tests.

Undocumented Bybit behaviour (batch rejection, auth margin, idle check period) is a setting
here rather than a guess baked into the handlers (docs/bybit-protocol.md: "make it
configurable").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AccountConfig(BaseModel):
    """One API key of the simulated exchange."""

    model_config = ConfigDict(frozen=True)

    api_key: str
    api_secret: str = Field(repr=False)
    uid: int = 0  # 0: assigned from the account's position in the list
    hedge_mode: bool = False
    wallet_balance: str = "100000"


class SimulatorConfig(BaseModel):
    """Everything a simulator instance needs; defaults mimic Bybit mainnet linear."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = 0
    #: ``None`` serves the admin API on the main port.
    admin_port: int | None = None
    admin_token: str = Field(default="sim-admin-token", repr=False)
    seed: int = 1
    symbols: int = 10
    accounts: tuple[AccountConfig, ...] = (
        AccountConfig(api_key="SIMKEY000000000000",
                      api_secret="SIMSECRET0000000000000000000000000000"),
    )
    #: Ticker push period (Bybit: 100 ms for derivatives).
    ticker_interval_ms: int = 100
    #: Unverified upstream: one unknown topic rejects the whole subscribe request.
    reject_batch_on_bad_topic: bool = False
    #: ``expires`` must be at least this far in the future (+1 s fails on Bybit, +10 s works).
    auth_min_margin_ms: int = 2000
    #: Idle close of the private socket without ``max_active_time`` (observed: 10 min).
    private_idle_timeout_s: float = 600.0
    #: Allowed ``max_active_time`` range (Bybit: 30 s..600 s); tests may lower the minimum.
    max_active_time_min_s: float = 30.0
    max_active_time_max_s: float = 600.0
    #: Bybit checks idleness about every 30 s, so the cut-off fires late.
    idle_check_interval_s: float = 30.0
    #: Per-connection bound of queued-but-unsent bytes; beyond it ticker pushes are dropped.
    send_queue_max_bytes: int = 4 * 1024 * 1024
    #: Per-UID REST limits (requests per second) by path; others use ``rest_default_limit``.
    rest_limits: dict[str, int] = Field(default_factory=lambda: {
        "/v5/position/list": 50, "/v5/order/create": 10})
    rest_default_limit: int = 50
    #: Per-IP REST limit per 5 s window (Bybit: 600, then HTTP 403 "access too frequent").
    rest_ip_limit_per_5s: int = 600
    taker_fee_rate: str = "0.00055"
    #: Served by ``/v5/account/fee-rate`` only: simulated fills always take liquidity.
    maker_fee_rate: str = "0.0002"
    default_leverage: str = "10"

    def account(self, api_key: str) -> AccountConfig | None:
        """The account with this key, if any."""
        return next((a for a in self.accounts if a.api_key == api_key), None)
