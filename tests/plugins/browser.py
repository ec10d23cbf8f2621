"""A real browser for the tests: Debian's Chromium, headless, driven over the DevTools
protocol with aiohttp (already a dependency; no WebDriver, no browser download). Only what
the dashboard test needs: open a page, evaluate JavaScript, press keys, type, screenshot,
and the page's uncaught exceptions for the diagnostics."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.plugins.processes import LoggedProcess, wait_for

#: DevTools key descriptions (what a keyboard sends) for the keys the tests press.
KEYS = {"Tab": {"key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9},
        "Enter": {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"},
        "Escape": {"key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27}}


class Page:
    """One tab, over its DevTools WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.exceptions: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                self.exceptions.append(
                    (details.get("exception") or {}).get("description") or details["text"])

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        future = self.pending[ident] = asyncio.get_running_loop().create_future()
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        result = await self.send("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait(self, expression: str, *, within: float = 30, what: str = "") -> Any:
        """Poll ``expression`` until it is truthy; fail with the page's text otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.2)
        text = await self.evaluate("document.body.innerText")
        raise AssertionError(f"timed out after {within}s waiting for {what or expression}\n"
                             f"page text:\n{text}\nexceptions: {self.exceptions}")

    async def open(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait("document.readyState === 'complete'", what=f"{url} loaded")

    async def press(self, key: str) -> None:
        """A real key press (down, up), as a keyboard delivers it to the focused element."""
        desc = KEYS[key]
        await self.send("Input.dispatchKeyEvent", type="keyDown", **desc)
        await self.send("Input.dispatchKeyEvent", type="keyUp",
                        **{k: v for k, v in desc.items() if k != "text"})

    async def type(self, text: str) -> None:
        await self.send("Input.insertText", text=text)

    async def focused(self) -> str:
        """The focused element, described the way a screen reader user would find it."""
        return await self.evaluate(
            "(e => `${e.tagName.toLowerCase()}:${e.dataset.action || e.textContent.trim()"
            " || e.id}`)(document.activeElement)")

    async def screenshot(self, path: Path) -> None:
        """The whole page as PNG."""
        shot = await self.send("Page.captureScreenshot", format="png",
                               captureBeyondViewport=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def chromium(workdir: Path, width: int = 1280, height: int = 900
                   ) -> AsyncIterator[Page]:
    """Headless Chromium on a DevTools port it picks itself (read from its profile)."""
    binary = shutil.which("chromium")
    assert binary, "chromium missing: hack/install-debian.sh installs it"
    profile = workdir / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    proc = LoggedProcess([binary, "--headless=new", "--no-sandbox", "--disable-gpu",
                          "--no-first-run", "--no-default-browser-check",
                          "--disable-extensions", "--disable-background-networking",
                          "--no-proxy-server", "--remote-debugging-address=127.0.0.1",
                          "--remote-debugging-port=0", f"--user-data-dir={profile}",
                          f"--window-size={width},{height}", "about:blank"],
                         workdir / "chromium.log")
    try:
        port_file = profile / "DevToolsActivePort"
        port = wait_for(lambda: port_file.exists() and port_file.read_text().split("\n")[0],
                        timeout=30, what="chromium's DevTools port")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                targets = await resp.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with http.ws_connect(url, max_msg_size=0) as ws:
                page = Page(ws)
                await page.send("Runtime.enable")
                await page.send("Page.enable")
                await page.send("Emulation.setDeviceMetricsOverride", width=width,
                                height=height, deviceScaleFactor=1, mobile=False)
                try:
                    yield page
                finally:
                    page.reader.cancel()
    finally:
        proc.stop()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Page]:
    async with chromium(tmp_path) as page:
        yield page
