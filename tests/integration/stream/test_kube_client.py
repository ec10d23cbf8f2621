"""The one Kubernetes client every process here builds (``hybridstream.kubeconfig``), on
real loopback sockets: no request waits for ever, and the environment (proxy variables)
is read once when the client is built, never a netrc: kubernetes_asyncio's own session
read both on every request."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp
import pytest
from hybridstream import kubeconfig
from hybridstream.kubeconfig import build_api_client
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
              "all_proxy", "ALL_PROXY")


def kubeconfig_for(path: Path, server: str) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "silent",
        "clusters": [{"name": "silent", "cluster": {"server": server}}],
        "users": [{"name": "silent", "user": {}}],
        "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "silent"}}],
    }))
    return path


async def test_a_request_to_a_silent_api_server_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kubernetes_asyncio waits for ever unless a request has a timeout: every client built
    here bounds each request (``REQUEST_TIMEOUT``, shortened for the test), so a connection
    the server never answers raises instead of hanging the caller (a stream pod's ack, an
    operator's pass). The server is a real socket that accepts and stays silent."""
    monkeypatch.setattr(kubeconfig, "REQUEST_TIMEOUT", aiohttp.ClientTimeout(total=1.5))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    server = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = asyncio.Event()

    async def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = await asyncio.to_thread(server.accept)
                accepted.append(conn)
            except TimeoutError:
                continue

    acceptor = asyncio.create_task(accept())
    api, _ = await build_api_client(
        config_file=str(kubeconfig_for(tmp_path / "kubeconfig",
                                       f"http://127.0.0.1:{server.getsockname()[1]}")))
    try:
        # a refused or reset connection would raise another error: this one timed out
        with pytest.raises(TimeoutError):
            await client.CoreV1Api(api).list_namespace()
        assert accepted, "the client never reached the silent server"
    finally:
        stop.set()
        await acceptor
        await api.close()
        for conn in accepted:
            conn.close()
        server.close()


async def test_the_proxy_is_read_from_the_environment_once_and_no_netrc_ever(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loopback proxy that answers 502 and records what reaches it; the API server's host
    does not resolve, so a request the proxy did not see never left. A netrc holding
    credentials for that host is never sent."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine kube.invalid login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    seen: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.decode())
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = str(kubeconfig_for(tmp_path / "kubeconfig", "http://kube.invalid:6443"))

    async def list_namespaces(api: client.ApiClient) -> None:
        await client.CoreV1Api(api).list_namespace(_request_timeout=5)
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        api, _ = await build_api_client(config_file=config)
        monkeypatch.delenv("HTTP_PROXY")  # read when the client was built, not per request
        try:
            for _ in range(2):
                with pytest.raises(ApiException) as raised:
                    await list_namespaces(api)
                assert raised.value.status == 502
        finally:
            await api.close()
        assert len(seen) == 2, seen
        assert all(h.startswith("GET http://kube.invalid:6443/api/v1/namespaces") for h in seen)
        assert not [h for h in seen if "authorization" in h.lower()], seen

        # NO_PROXY names the host: it is dialled directly (and does not resolve)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("NO_PROXY", "kube.invalid")
        api, _ = await build_api_client(config_file=config)
        try:
            with pytest.raises(aiohttp.ClientConnectorError):
                await list_namespaces(api)
        finally:
            await api.close()
        assert len(seen) == 2, seen
    finally:
        server.close()
        await server.wait_closed()
