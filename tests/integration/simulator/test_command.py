"""``hybridstream simulator`` as a real process: it serves, obeys the admin token, stops on
SIGTERM, and never prints account secrets or the admin token."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import aiohttp
from hybridstream.bybit.signing import rest_headers

from .helpers import DEADLINE, now_ms

SECRET = "cli-secret-must-not-leak-0000000001"
TOKEN = "cli-admin-token-must-not-leak"


async def test_cli_serves_and_stops_cleanly() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hybridstream.cli", "simulator", "--port", "0",
        "--admin-token", TOKEN, "--symbols", "3", "--account", f"CLIKEY:{SECRET}:hedge",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), DEADLINE)).decode()
        rest = re.search(r"rest=(\S+)", line)
        assert rest, line
        url = rest.group(1)
        query = "category=linear&symbol=ETHUSDT"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/v5/position/list?{query}",
                                   headers=rest_headers("CLIKEY", SECRET, now_ms(),
                                                        query)) as resp:
                body = await resp.json()
            assert [p["positionIdx"] for p in body["result"]["list"]] == [1, 2]  # hedge
            async with session.get(f"{url}/admin/connections") as resp:
                assert resp.status == 401
            async with session.get(f"{url}/admin/connections",
                                   headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), DEADLINE)
    assert proc.returncode == 0
    printed = line + out.decode() + err.decode()
    assert SECRET not in printed and TOKEN not in printed
