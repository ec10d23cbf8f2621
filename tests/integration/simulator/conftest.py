"""Fixtures: a running simulator on free loopback ports and an HTTP/WS client session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from hybridstream.simulator import AccountConfig, Simulator, running_simulator

ACCOUNTS = (
    AccountConfig(api_key="ONEWAYKEY00000000001", api_secret="oneway-secret-0000000000000001"),
    AccountConfig(api_key="HEDGEKEY000000000002", api_secret="hedge-secret-00000000000000002",
                  hedge_mode=True),
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_simulator(symbols=12, seed=11, accounts=ACCOUNTS) as simulator:
        yield simulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
