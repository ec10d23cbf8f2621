"""HTTP client of the admin API, for tests and tools driving a simulator in another process.

``call(action, **kwargs)`` reaches any action; the typed helpers cover the common ones.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from hybridstream.simulator.admin import READ_ONLY


class AdminError(RuntimeError):
    """The admin API refused a call."""


class AdminClient:
    """``async with AdminClient(url, token) as admin: await admin.open_position(...)``."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, action: str, **kwargs: Any) -> Any:
        """Invoke ``/admin/<action>``; returns its ``result`` or raises ``AdminError``."""
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        url = f"{self.base_url}/admin/{action}"
        if action in READ_ONLY:
            params = {k: str(v) for k, v in kwargs.items() if v is not None}
            request = self._session.get(url, params=params)
        else:
            request = self._session.post(url, json=kwargs)
        async with request as resp:
            body = await resp.json()
            if resp.status != 200:
                raise AdminError(f"{action}: HTTP {resp.status}: {body.get('error')}")
            return body["result"]

    async def open_position(self, account: str, symbol: str, side: str, qty: str,
                            position_idx: int | None = None) -> dict[str, str]:
        """Trade for ``account`` (see ``Control.open_position``)."""
        return await self.call("open-position", account=account, symbol=symbol, side=side,
                               qty=qty, position_idx=position_idx)

    async def close_position(self, account: str, symbol: str,
                             position_idx: int | None = None) -> list[dict[str, str]]:
        """Flatten ``symbol`` for ``account``."""
        return await self.call("close-position", account=account, symbol=symbol,
                               position_idx=position_idx)

    async def positions(self, account: str) -> list[dict[str, Any]]:
        """Ground-truth positions of ``account``."""
        return await self.call("positions", account=account)

    async def journal(self, account: str | None = None, symbol: str | None = None,
                      since_seq: int | None = None) -> list[dict[str, Any]]:
        """Journal entries (filters as ``Control.journal_entries``)."""
        return await self.call("journal", account=account, symbol=symbol, since_seq=since_seq)

    async def set_price(self, symbol: str, price: str, freeze: bool = True) -> dict[str, str]:
        """Move ``symbol`` to ``price``."""
        return await self.call("set-price", symbol=symbol, price=price, freeze=freeze)

    async def drop(self, kind: str = "all", mode: str = "clean", account: str | None = None,
                   conn_id: str | None = None, code: int = 1000) -> int:
        """Cut sockets; returns how many."""
        return await self.call("drop", kind=kind, mode=mode, account=account,
                               conn_id=conn_id, code=code)
