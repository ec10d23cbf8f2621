"""Credentials never leave the process: run real ``hybridstream run`` children with a known
key and secret through auth rejections, rate limiting, a wrong secret (Bybit's 10004 text
echoes the signed string, which contains the key) and an invalid configuration, at DEBUG
log level, then search everything they emitted: stdout, stderr, and every HTTP endpoint."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

from hybridstream.simulator.app import running_simulator
from hybridstream.simulator.config import AccountConfig, SimulatorConfig

from tests.plugins.waiting import eventually

from .processes import StreamProcess, build_env, stream_process

KEY = "KEYd41d8cd98f00b204"
SECRET = "SECRETe9800998ecf8427e7f3a1c2b4d6e8f0a"
ENDPOINTS = ("/metrics", "/healthz", "/readyz", "/api/hybrid/status",
             "/api/hybrid/subscriptions", "/api/hybrid/metrics", "/api/hybrid/history")


async def everything_emitted(proc: StreamProcess) -> str:
    bodies = [(await proc.get(path))[1] for path in ENDPOINTS]
    return "\n".join([proc.output(), *bodies])


async def test_credentials_never_emitted(tmp_path: Path) -> None:
    config = SimulatorConfig(admin_port=0, symbols=4,
                             accounts=(AccountConfig(api_key=KEY, api_secret=SECRET),))
    async with running_simulator(config) as sim:
        sim.control.reject_auth(2)
        sim.control.rate_limit(count=3)
        sim.control.open_position(KEY, "BTCUSDT", "Buy", "0.01")
        env = build_env(sim, "production", BYBIT_API_KEY=KEY, BYBIT_API_SECRET=SECRET)
        # The legacy poller signs REST calls with the wrong secret: retCode 10004.
        wrong = {**env, "BYBIT_API_SECRET": SECRET[::-1], "HYBRID_MODE": "rest"}
        with stream_process(tmp_path / "good.log", env, "DEBUG") as good, \
                stream_process(tmp_path / "wrong.log", wrong, "DEBUG") as bad:
            await eventually(lambda: any(e["type"] == "position.update"
                                         for e in good.events()), "events forwarded")
            await eventually(lambda: "authentication rejected" in good.output(),
                             "auth rejection logged")
            await eventually(lambda: "retCode 10004" in bad.output(), "REST sign error seen")
            emitted = [await everything_emitted(good), await everything_emitted(bad)]
        emitted += [good.output(), bad.output()]  # including the shutdown logs
        # SIGTERM is a graceful stop: drained, closed, exit status 0 (not the SIGKILL path).
        for proc in (good, bad):
            assert proc.proc.proc.returncode == 0 and "stream stopped" in proc.output()
    invalid = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hybridstream.cli", "run", stdout=PIPE, stderr=PIPE,
        env={"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET, "HYBRID_MODE": "nonsense",
             "PATH": "/usr/bin:/bin"})
    out, err = await asyncio.wait_for(invalid.communicate(), 60)
    assert invalid.returncode == 2 and b"HYBRID_MODE" in err
    emitted += [out.decode(), err.decode()]
    text = "\n".join(emitted)
    assert "hybridstream_errors_total" in text and "authentication" in text  # not vacuous
    assert SECRET not in text and SECRET[::-1] not in text
    assert KEY not in text
