"""The one way tests wait: poll a condition until it holds, bounded, and fail naming what
was awaited (with the last error and, if given, ``describe()``: the context of the failed
wait).

``wait_for`` is the blocking one (hack.kube's, shared with the e2e stack and the demo);
``eventually`` is the same for coroutine tests, and its condition may be sync or async.
Both treat a raising condition as not yet: a peer that is still starting refuses
connections.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from hack.kube import wait_for

__all__ = ["eventually", "wait_for"]


async def eventually(condition: Callable[[], Any | Awaitable[Any]], what: str = "condition",
                     *, within: float = 30.0, interval: float = 0.1,
                     describe: Callable[[], str] | None = None) -> Any:
    """Poll ``condition`` (a function, or a coroutine function) until it returns a truthy
    value and return it; after ``within`` s raise TimeoutError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: Any = None
    while loop.time() < deadline:
        try:
            last = condition()
            if inspect.isawaitable(last):
                last = await last
            if last:
                return last
        except Exception as exc:
            last = exc
        await asyncio.sleep(interval)
    context = f"\n{describe()}" if describe else ""
    raise TimeoutError(f"timed out after {within:.0f} s waiting for {what} "
                       f"(last: {last!r}){context}")
