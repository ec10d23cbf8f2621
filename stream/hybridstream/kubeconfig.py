"""The one way every process here reaches the Kubernetes API: the stream pods, the
operator and ``kubectl hsr`` (which differ only in whether a Pod's ServiceAccount may be
used)."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config

# kubernetes_asyncio sends a request without any timeout unless it is given one: a lost
# connection would then wait for ever (a stream pod's routing ack, say, and with it the
# rollout's handover). The API server ends a request after 60 s itself (--request-timeout),
# so no answer in that time will not come. A watch passes its own, longer, timeout.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)


class BoundedApiClient(client.ApiClient):
    """An ApiClient whose requests end: ``REQUEST_TIMEOUT`` unless a call gives one."""

    def request(self, method: str, url: str, *args: Any, _request_timeout: Any = None,
                **kwargs: Any) -> Any:
        return super().request(method, url, *args,
                               _request_timeout=_request_timeout or REQUEST_TIMEOUT, **kwargs)


async def build_api_client(*, config_file: str | None = None, context: str | None = None,
                           in_cluster: bool = True) -> tuple[client.ApiClient,
                                                            dict[str, Any] | None]:
    """An API client (every request bounded in time) and the kubeconfig context it uses
    (None in a Pod). In a Pod (``KUBERNETES_SERVICE_HOST``) with ``in_cluster`` and no
    explicit file or context: its ServiceAccount; else ``config_file``, ``$KUBECONFIG`` or
    ``~/.kube/config``, as kubectl reads them. Raises
    ``kubernetes_asyncio.config.ConfigException`` when there is none."""
    explicit = config_file is not None or context is not None
    if in_cluster and not explicit and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
        return BoundedApiClient(), None
    loader = await config.load_kube_config(
        config_file=config_file or os.environ.get("KUBECONFIG"), context=context)
    return BoundedApiClient(), loader.current_context
