"""A protocol-faithful local Bybit v5 (linear) with fault injection, for tests and demos.

Python API (what the stream's integration tests use)::

    from hybridstream.simulator import AccountConfig, SimulatorConfig, running_simulator

    async with running_simulator(seed=7, symbols=20) as sim:   # 127.0.0.1, free ports
        sim.rest_url          # "http://127.0.0.1:PORT"          -> BYBIT_REST_URL
        sim.ws_public_url     # "ws://127.0.0.1:PORT/v5/public/linear"
        sim.ws_private_url    # "ws://127.0.0.1:PORT/v5/private"
        key = sim.config.accounts[0].api_key          # default account (secret beside it)
        sim.control.open_position(key, "BTCUSDT", "Buy", "0.01")   # in-process, sync
        sim.control.close_position(key, "BTCUSDT")
        sim.control.positions(key)                    # ground truth, REST item shape
        sim.control.journal_entries(key)              # every position update, with seq
        await sim.admin.open_position(key, "ETHUSDT", "Sell", "0.1")  # same over HTTP

``running_simulator(config=None, **overrides)`` takes a ``SimulatorConfig`` and/or field
overrides (``symbols``, ``seed``, ``accounts=(AccountConfig(api_key=..., api_secret=...,
hedge_mode=True),)``, ``ticker_interval_ms``, ``reject_batch_on_bad_topic``,
``private_idle_timeout_s``, ``idle_check_interval_s``, ``max_active_time_min_s``,
``auth_min_margin_ms``, ``rest_limits``...). Symbols are BTCUSDT, ETHUSDT, SOLUSDT, XRPUSDT,
DOGEUSDT, ADAUSDT, LINKUSDT, AVAXUSDT, DOTUSDT, LTCUSDT, then SIM010USDT, SIM011USDT...

Control (``sim.control``, and ``POST /admin/<action>`` with the same keyword arguments as JSON,
``Authorization: Bearer <admin_token>``; GET for positions/journal/connections):

- ``open-position``: open_position(account, symbol, side, qty, position_idx=None): a market
  order, with order, execution, position and wallet pushes;
  ``close-position``: close_position(account, symbol, position_idx=None): reduce-only to flat.
- ``positions``: positions(account): ground-truth slots that ever traded (REST item shape);
  ``journal``: journal_entries(account=None, symbol=None, since_seq=None).
- ``set-price``: set_price(symbol, price, freeze=True) (freeze stops the random walk);
  ``script-prices``: script_prices(symbol, prices, interval_ms);
  ``release-price``: release_price(symbol).
- ``drop``: drop_connections(kind="all", mode="clean", account=None, conn_id=None, code=1000),
  mode ``clean`` (close frame), ``reset`` (TCP RST) or ``no_close_frame`` (client sees 1006).
- ``stall``/``unstall``: (symbols=None, topics=None): withhold ticker pushes of symbols
  (resume with one merged delta) and/or private pushes of topics (delivered in order later).
- ``delay``: set_delay(kind, ms) on public/private/all; ``reject-auth``: reject_auth(count)
  ("Params Error"); ``rate-limit``: rate_limit(count=0, seconds=0) (10006).
- ``malformed``: send_malformed(kind, conn_kind="all", conn_id=None), kind invalid_json,
  invalid_utf8, reserved_bits or binary.
- ``restart``: restart(down_seconds=1.0): stop listening, reset every socket, listen again on
  the same port; state kept. ``clear-faults``: clear_faults(). ``connections``: connections().
  ``stats``: stats() (ticks, messages built, frames sent, drops).

``sim.journal`` (a ``Journal``) and ``sim.engine`` are there for in-process assertions;
``sim.restarts`` counts restarts. Command line: ``hybridstream simulator --help``.
"""

from hybridstream.simulator.admin_client import AdminClient, AdminError
from hybridstream.simulator.app import Simulator, running_simulator
from hybridstream.simulator.config import AccountConfig, SimulatorConfig

__all__ = ["AccountConfig", "AdminClient", "AdminError", "Simulator", "SimulatorConfig",
           "running_simulator"]
