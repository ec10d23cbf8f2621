"""REST ``/v5/...``: public market data and signed account endpoints with Bybit envelopes.

Every answer is HTTP 200 with ``retCode`` (Bybit does the same for API errors); signed
endpoints carry Bybit's rate-limit headers, which pybit reads to sleep before retrying 10006.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from hybridstream.bybit.rest_envelope import TOO_MANY_VISITS_MSG, RetCode, build_envelope
from hybridstream.simulator.clock import now_ms
from hybridstream.simulator.config import SimulatorConfig
from hybridstream.simulator.engine import Engine
from hybridstream.simulator.faults import FaultState
from hybridstream.simulator.order_queries import (
    RecordQuery,
    build_newest_first_page,
    build_rest_execution,
    build_rest_order,
    parse_executions_query,
    parse_open_orders_query,
    parse_order_history_query,
    select_executions,
    select_orders,
)
from hybridstream.simulator.orders import OrderRejected
from hybridstream.simulator.rest_account import (
    build_account_info,
    build_api_key_info,
    build_fee_rates,
)
from hybridstream.simulator.rest_auth import RateLimiter, assess_signed_request
from hybridstream.simulator.rest_market import (
    build_coin_info,
    build_instrument_info,
    build_page,
    build_rest_ticker,
)

WS_PATHS = frozenset({"/v5/public/linear", "/v5/private"})
SignedHandler = Callable[[str, dict[str, str]], dict[str, Any]]


def _params_error(detail: str) -> OrderRejected:
    return OrderRejected(RetCode.PARAMS_ERROR, detail)


def reply(result: dict[str, Any] | None, ret_code: int = 0, ret_msg: str = "OK",
          headers: dict[str, str] | None = None) -> web.Response:
    """The Bybit envelope as an HTTP 200 JSON response."""
    return web.json_response(build_envelope(result, now_ms(), ret_code, ret_msg),
                             headers=headers, dumps=lambda o: json.dumps(o, separators=(",", ":")))


def _limit_arg(params: dict[str, str], default: int, maximum: int) -> int:
    try:
        limit = int(params.get("limit", default))
    except ValueError:
        raise _params_error("params error: limit invalid") from None
    if not 1 <= limit <= maximum:
        raise _params_error("params error: limit invalid")
    return limit


def _other_category(params: dict[str, str]) -> str | None:
    """The category when it is a valid non-linear one (we list nothing there); 10001 when it
    is missing or unknown; None for linear."""
    category = params.get("category")
    if category in ("spot", "inverse", "option"):
        return category
    if category != "linear":
        raise _params_error("params error: category invalid")
    return None


def _page(items: list[Any], params: dict[str, str], default: int,
          maximum: int) -> tuple[list[Any], str]:
    try:
        return build_page(items, _limit_arg(params, default, maximum), params.get("cursor", ""))
    except ValueError:
        raise _params_error("params error: cursor invalid") from None


class RestApi:
    """Handlers bound to one simulator's state."""

    def __init__(self, config: SimulatorConfig, engine: Engine, faults: FaultState) -> None:
        self.engine = engine
        self.market = engine.market
        self.faults = faults
        self.limiter = RateLimiter(config.rest_limits, config.rest_default_limit)
        self.ip_limiter = RateLimiter({}, config.rest_ip_limit_per_5s, window_ms=5000)
        self._secrets = {a.api_key: a.api_secret for a in config.accounts}
        self.requests = 0
        self._started_ms = now_ms()

    def routes(self) -> list[web.RouteDef]:
        """All REST routes."""
        return [
            web.get("/v5/market/time", self.market_time),
            web.get("/v5/market/tickers", self._public(self.tickers)),
            web.get("/v5/market/instruments-info", self._public(self.instruments)),
            web.get("/v5/position/list", self._signed(self.position_list)),
            web.post("/v5/order/create", self._signed(self.order_create)),
            web.get("/v5/account/wallet-balance", self._signed(self.wallet_balance)),
            web.get("/v5/asset/coin/query-info", self._signed(self.coin_info)),
            web.get("/v5/user/query-api", self._signed(self.api_key_info)),
            web.get("/v5/account/info", self._signed(self.account_info)),
            web.get("/v5/account/fee-rate", self._signed(self.fee_rate)),
            web.get("/v5/order/realtime", self._signed(self.open_orders)),
            web.get("/v5/order/history", self._signed(self.order_history)),
            web.get("/v5/execution/list", self._signed(self.executions)),
        ]

    @web.middleware
    async def ip_limit(self, request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                       ) -> web.StreamResponse:
        """Bybit's per-IP REST limit: beyond it, HTTP 403 (not an envelope) for the window."""
        if request.path.startswith("/v5/") and request.path not in WS_PATHS:
            verdict = self.ip_limiter.check(request.remote or "", "ip", now_ms())
            if not verdict.allowed:
                return web.Response(status=403, text="access too frequent")
        return await handler(request)

    async def market_time(self, request: web.Request) -> web.Response:
        """``GET /v5/market/time`` (unsigned)."""
        ns = time.time_ns()
        return reply({"timeSecond": str(ns // 10 ** 9), "timeNano": str(ns)})

    def _public(self, handler: Callable[[dict[str, str]], dict[str, Any]]
                ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapped(request: web.Request) -> web.Response:
            self.requests += 1
            try:
                return reply(handler(dict(request.query)))
            except OrderRejected as exc:
                return reply(None, exc.ret_code, exc.ret_msg)
        return wrapped

    def _signed(self, handler: SignedHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapped(request: web.Request) -> web.Response:
            self.requests += 1
            # Verify what was sent, not a re-encoding of it (pybit sorts, ccxt does not).
            raw_query = request.raw_path.partition("?")[2]
            body = await request.text() if request.method == "POST" else ""
            payload = body if request.method == "POST" else raw_query
            server_ms = now_ms()
            api_key, failure = assess_signed_request(request.headers, payload, self._secrets,
                                                     server_ms)
            if failure is not None:
                return reply(None, failure.ret_code, failure.ret_msg)
            verdict = self.limiter.check(api_key, request.path, server_ms,
                                         forced=self.faults.consume_rate_limit())
            if not verdict.allowed:
                return reply(None, RetCode.TOO_MANY_VISITS, TOO_MANY_VISITS_MSG,
                             verdict.headers())
            try:
                params = self._params(request.method, raw_query, body)
                return reply(handler(api_key, params), headers=verdict.headers())
            except OrderRejected as exc:
                return reply(None, exc.ret_code, exc.ret_msg, verdict.headers())
        return wrapped

    @staticmethod
    def _params(method: str, raw_query: str, body: str) -> dict[str, Any]:
        if method != "POST":
            return dict(parse_qsl(raw_query, keep_blank_values=True))
        try:
            params = json.loads(body or "{}")
        except ValueError:
            raise _params_error("params error: request body is not JSON") from None
        if not isinstance(params, dict):
            raise _params_error("params error: request body is not an object")
        return params

    def tickers(self, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/market/tickers?category=linear[&symbol=]``."""
        category = params.get("category")
        if category != "linear":
            if category in ("spot", "inverse", "option"):
                return {"category": category, "list": []}
            raise _params_error("params error: category invalid")
        symbol = params.get("symbol")
        if symbol is not None and symbol not in self.market.tickers:
            raise _params_error("params error: symbol invalid")
        symbols = [symbol] if symbol else list(self.market.tickers)
        return {"category": "linear",
                "list": [build_rest_ticker(self.market.tickers[s].fields) for s in symbols]}

    def instruments(self, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/market/instruments-info``: our symbols as linear perpetuals."""
        category = params.get("category")
        if category not in ("linear", "spot", "inverse", "option"):
            raise _params_error("params error: category invalid")
        listed = category == "linear" and params.get("status") in (None, "Trading")
        items = [build_instrument_info(i) for i in self.market.instruments.values()
                 if listed and params.get("symbol") in (None, i.symbol)]
        page, nxt = _page(items, params, 500, 1000)
        return {"category": category, "list": page, "nextPageCursor": nxt}

    def position_list(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/position/list``: by ``symbol`` (flat included) or ``settleCoin`` (open)."""
        category = params.get("category")
        if category in ("inverse", "option"):  # no such positions here (ccxt asks for both)
            return {"list": [], "nextPageCursor": "", "category": category}
        if category != "linear":
            raise _params_error("params error: category invalid")
        symbol, settle = params.get("symbol"), params.get("settleCoin")
        if not symbol and not settle:
            raise _params_error(
                "Missing some parameters that must be filled in, symbol or settleCoin")
        if symbol and symbol not in self.market.instruments:
            raise _params_error("params error: symbol invalid")
        if settle and settle != "USDT" and not symbol:
            positions = []
        else:
            positions = self.engine.list_positions(api_key, symbol or None)
        page, nxt = _page(positions, params, 20, 200)
        return {"list": [self.engine.rest_position(p) for p in page],
                "nextPageCursor": nxt, "category": "linear"}

    def order_create(self, api_key: str, params: dict[str, Any]) -> dict[str, Any]:
        """``POST /v5/order/create``."""
        return self.engine.place_order(api_key, params)

    def wallet_balance(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/account/wallet-balance?accountType=UNIFIED``."""
        if params.get("accountType") not in ("UNIFIED", "CONTRACT"):
            raise _params_error("params error: accountType invalid")
        return {"list": [self.engine.wallet(api_key)]}

    def coin_info(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/asset/coin/query-info``: USDT and every base coin we list."""
        coins = ["USDT", *(i.base_coin for i in self.market.instruments.values())]
        wanted = params.get("coin")
        return {"rows": [build_coin_info(c) for c in coins if wanted in (None, c)]}

    def api_key_info(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/user/query-api``."""
        return build_api_key_info(api_key, self.engine.accounts[api_key].uid, self._started_ms)

    def account_info(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/account/info``."""
        return build_account_info(self._started_ms)

    def fee_rate(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/account/fee-rate?category=linear[&symbol=]``."""
        if _other_category(params) is not None:
            return {"list": []}
        symbol = params.get("symbol")
        if symbol and symbol not in self.market.instruments:
            raise _params_error("params error: symbol invalid")
        symbols = [symbol] if symbol else list(self.market.instruments)
        return {"list": build_fee_rates(symbols, self.engine.taker_fee_rate,
                                        self.engine.maker_fee_rate)}

    def open_orders(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/order/realtime``: open (or recently closed) orders, newest first."""
        return self._orders(api_key, params, 20, 50,
                            lambda: parse_open_orders_query(params, self.market.instruments))

    def order_history(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/order/history``: closed orders in a <= 7 day window, newest first."""
        return self._orders(api_key, params, 20, 50, lambda: parse_order_history_query(
            params, self.market.instruments, now_ms()))

    def _orders(self, api_key: str, params: dict[str, str], default: int, maximum: int,
                parse: Callable[[], RecordQuery]) -> dict[str, Any]:
        category = _other_category(params)
        if category is not None:
            return {"category": category, "list": [], "nextPageCursor": ""}
        selected = select_orders(list(self.engine.accounts[api_key].orders.values()), parse())
        page, nxt = build_newest_first_page(selected, _limit_arg(params, default, maximum),
                                            params.get("cursor", ""), build_rest_order)
        return {"category": "linear", "list": page, "nextPageCursor": nxt}

    def executions(self, api_key: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /v5/execution/list``: fills in a <= 7 day window, newest first."""
        category = _other_category(params)
        if category is not None:
            return {"category": category, "list": [], "nextPageCursor": ""}
        query = parse_executions_query(params, self.market.instruments, now_ms())
        selected = select_executions(self.engine.accounts[api_key].executions, query)
        page, nxt = build_newest_first_page(selected, _limit_arg(params, 50, 100),
                                            params.get("cursor", ""), build_rest_execution)
        return {"category": "linear", "list": page, "nextPageCursor": nxt}
