"""The one way every process here serves HTTP: the stream's status server, the operator's
webhook and health endpoints, and ``kubectl hsr dashboard``."""

from __future__ import annotations

from aiohttp import web


async def start_site(app: web.Application, host: str, port: int, *,
                     shutdown_timeout: float = 60.0) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0: any free port); returns the runner (``cleanup()``
    stops it) and the bound port. No access log: the processes log what matters."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, runner.addresses[0][1]
