"""Admin HTTP API: ``POST|GET /admin/<action>`` maps onto ``Control`` methods.

One generic route keeps the HTTP surface and the in-process API identical (a JSON body or
query parameters become keyword arguments). A bearer token guards it, since an admin API
that can open positions and cut sockets must not be reachable by the stream under test.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
from typing import Any

from aiohttp import web

from hybridstream.simulator.control import Control
from hybridstream.simulator.orders import OrderRejected

#: action (URL segment) -> Control method; GET-able ones only read.
ACTIONS = {
    "open-position": "open_position", "close-position": "close_position",
    "positions": "positions", "journal": "journal_entries",
    "set-price": "set_price", "script-prices": "script_prices",
    "release-price": "release_price",
    "drop": "drop_connections", "refuse-websockets": "refuse_websockets",
    "stall": "stall", "unstall": "unstall",
    "delay": "set_delay", "reject-auth": "reject_auth", "rate-limit": "rate_limit",
    "malformed": "send_malformed", "restart": "restart", "clear-faults": "clear_faults",
    "connections": "connections", "stats": "stats",
}
READ_ONLY = frozenset({"positions", "journal", "connections", "stats"})
_INT_QUERY = frozenset({"since_seq", "position_idx"})


def parse_query_kwargs(query: dict[str, str]) -> dict[str, Any]:
    """Query parameters of a GET action as keyword arguments (known ints converted)."""
    return {k: int(v) if k in _INT_QUERY else v for k, v in query.items()}


class AdminApi:
    """The ``/admin/`` routes for one simulator."""

    def __init__(self, control: Control, token: str) -> None:
        self.control = control
        self._token = token
        self._background: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.RouteDef]:
        """The admin route (one generic action handler)."""
        return [web.route("*", "/admin/{action}", self.handle)]

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode())

    async def handle(self, request: web.Request) -> web.Response:
        """Dispatch one admin call."""
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        action = request.match_info["action"]
        if action not in ACTIONS:
            return web.json_response({"error": f"unknown action {action}"}, status=404)
        if request.method == "GET" and action not in READ_ONLY:
            return web.json_response({"error": "use POST"}, status=405)
        try:
            kwargs = (parse_query_kwargs(dict(request.query)) if request.method == "GET"
                      else json.loads(await request.text() or "{}"))
            method = getattr(self.control, ACTIONS[action])
            if action == "restart":
                # Answer first: on a shared port the restart cuts this very connection.
                task = asyncio.create_task(method(**kwargs))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                return web.json_response({"result": "scheduled"})
            result = method(**kwargs)
            if inspect.isawaitable(result):
                result = await result
        except KeyError as exc:
            return web.json_response({"error": f"unknown account or symbol {exc}"}, status=404)
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except OrderRejected as exc:
            return web.json_response({"error": exc.ret_msg, "retCode": exc.ret_code},
                                     status=409)
        return web.json_response({"result": result})
