"""Wiring: build the simulator's parts, serve them on loopback, restart on demand.

``running_simulator()`` is what tests use: it binds free ports on 127.0.0.1, starts the
ticker feed and the idle watchdog, and tears everything down on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from hybridstream.simulator.admin import AdminApi
from hybridstream.simulator.admin_client import AdminClient
from hybridstream.simulator.clock import now_ms
from hybridstream.simulator.config import SimulatorConfig
from hybridstream.simulator.connections import ConnectionRegistry
from hybridstream.simulator.control import Control
from hybridstream.simulator.engine import Engine
from hybridstream.simulator.faults import FaultState
from hybridstream.simulator.journal import Journal
from hybridstream.simulator.market import Market, build_instruments
from hybridstream.simulator.private_ws import PrivateHub
from hybridstream.simulator.public_ws import PublicHub
from hybridstream.simulator.rest import RestApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0: a free one), reusable across a simulated restart."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


class Simulator:
    """One simulated Bybit: market, accounts, sockets, REST and admin."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config = config or SimulatorConfig()
        self.market = Market(build_instruments(config.symbols, config.seed), config.seed,
                             now_ms())
        self.journal = Journal()
        self.faults = FaultState()
        self.registry = ConnectionRegistry()
        self.private = PrivateHub(config, self.faults, self.registry)
        self.engine = Engine(config, self.market, self.journal, self.private.publish)
        self.public = PublicHub(config, self.market, self.faults, self.registry)
        self.rest = RestApi(config, self.engine, self.faults)
        self.control = Control(self.engine, self.journal, self.faults,
                               registry=self.registry, public=self.public,
                               private=self.private,
                               restart=self._restart)
        self._admin_api = AdminApi(self.control, config.admin_token)
        self._main_runner: web.AppRunner | None = None
        self._main_site: web.SockSite | None = None
        self._admin_runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = config.port
        self.admin_port = config.admin_port
        self.admin: AdminClient | None = None
        self.restarts = 0

    # -- URLs -----------------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        """REST base URL (``BYBIT_REST_URL``)."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_public_url(self) -> str:
        """Public linear WebSocket URL."""
        return f"ws://{self.config.host}:{self.port}/v5/public/linear"

    @property
    def ws_private_url(self) -> str:
        """Private WebSocket URL."""
        return f"ws://{self.config.host}:{self.port}/v5/private"

    @property
    def admin_url(self) -> str:
        """Base URL of the admin API (``/admin/...`` below it)."""
        return f"http://{self.config.host}:{self.admin_port or self.port}"

    # -- lifecycle ------------------------------------------------------------------------
    def _build_main_app(self) -> web.Application:
        app = web.Application(middlewares=[self.rest.ip_limit])
        app.add_routes([web.get("/v5/public/linear", self._unless_refused(self.public.handle)),
                        web.get("/v5/private", self._unless_refused(self.private.handle)),
                        *self.rest.routes()])
        if self.config.admin_port is None:
            app.add_routes(self._admin_api.routes())
        return app

    def _unless_refused(self, handler: Handler) -> Handler:
        """``handler``, or 503 during a WebSocket outage (``Control.refuse_websockets``)."""
        async def serve(request: web.Request) -> web.StreamResponse:
            if self.faults.websockets_refused():
                return web.Response(status=503, text="websocket service unavailable")
            return await handler(request)
        return serve

    async def start(self) -> None:
        """Bind, serve and start the feed; ports are known afterwards."""
        self._main_runner = web.AppRunner(self._build_main_app(), handle_signals=False,
                                          access_log=None, shutdown_timeout=1.0)
        await self._main_runner.setup()
        sock = bind_socket(self.config.host, self.port)
        self.port = sock.getsockname()[1]
        self._main_site = web.SockSite(self._main_runner, sock)
        await self._main_site.start()
        if self.config.admin_port is not None:
            admin_app = web.Application()
            admin_app.add_routes(self._admin_api.routes())
            self._admin_runner = web.AppRunner(admin_app, handle_signals=False,
                                               access_log=None)
            await self._admin_runner.setup()
            admin_sock = bind_socket(self.config.host, self.config.admin_port)
            self.admin_port = admin_sock.getsockname()[1]
            await web.SockSite(self._admin_runner, admin_sock).start()
        self.admin = AdminClient(self.admin_url, self.config.admin_token)
        self._tasks = [asyncio.create_task(self.public.run_feed(), name="ticker-feed"),
                       asyncio.create_task(self.private.run_idle_watchdog(), name="idle-watch")]
        log.info("simulator listening on %s (admin %s)", self.rest_url, self.admin_url)

    def _reset_all_sockets(self) -> None:
        for conn in self.registry.select():
            conn.reset()
        if self._main_runner is not None and self._main_runner.server is not None:
            for handler in self._main_runner.server.connections:
                if handler.transport is not None:
                    handler.transport.abort()

    async def _restart(self, down_seconds: float) -> None:
        """Stop listening, reset every connection, stay down, listen on the same port."""
        assert self._main_runner is not None and self._main_site is not None
        self.restarts += 1
        await self._main_site.stop()
        self._reset_all_sockets()
        await asyncio.sleep(down_seconds)
        self._main_site = web.SockSite(self._main_runner, bind_socket(self.config.host,
                                                                      self.port))
        await self._main_site.start()
        log.info("simulator restarted after %.1fs down", down_seconds)

    async def stop(self) -> None:
        """Cancel tasks, drop sockets, release ports."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.control.cancel_scripts()
        self._reset_all_sockets()
        if self.admin is not None:
            await self.admin.close()
        for runner in (self._main_runner, self._admin_runner):
            if runner is not None:
                await runner.cleanup()


@contextlib.asynccontextmanager
async def running_simulator(config: SimulatorConfig | None = None,
                            **overrides: Any) -> AsyncIterator[Simulator]:
    """``async with running_simulator(seed=3) as sim:`` -- a started simulator on free
    loopback ports (admin on its own port unless ``admin_port`` is given otherwise)."""
    base = config or SimulatorConfig(admin_port=0)
    sim = Simulator(SimulatorConfig.model_validate({**base.model_dump(), **overrides})
                    if overrides else base)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
