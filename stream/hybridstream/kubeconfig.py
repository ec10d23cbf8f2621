"""The one way every process here reaches the Kubernetes API: the stream pods, the
operator and ``kubectl hsr`` (which differ only in whether a Pod's ServiceAccount may be
used)."""

from __future__ import annotations

import os
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import client, config
from yarl import URL

# kubernetes_asyncio sends a request without any timeout unless it is given one: a lost
# connection would then wait for ever (a stream pod's routing ack, say, and with it the
# rollout's handover). The API server ends a request after 60 s itself (--request-timeout),
# so no answer in that time will not come. A watch passes its own, longer, timeout.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)


#: aiohttp's read buffer as kubernetes_asyncio sets it (a watch event may carry an object
#: of up to etcd's 1.5 MiB).
READ_BUFSIZE = 2**21


def env_proxy(host: str) -> tuple[str | None, dict[str, str]]:
    """The proxy the environment names for the API server at ``host`` (``HTTPS_PROXY``,
    ``NO_PROXY``..., as kubectl reads them) and its ``Proxy-Authorization`` header; None
    and no header when it is reached directly."""
    try:
        proxy, auth = get_env_proxy_for_url(URL(host))
    except LookupError:
        return None, {}
    return str(proxy), ({"Proxy-Authorization": auth.encode()} if auth else {})


class BoundedApiClient(client.ApiClient):
    """An ApiClient whose requests end (``REQUEST_TIMEOUT`` unless a call gives one) and
    that reads its proxy from the environment once. kubernetes_asyncio's session trusts
    the environment, so aiohttp looked for a ``~/.netrc`` (in a thread) and parsed the
    proxy variables on every request: a third of the operator's CPU while it adopted a
    thousand rollouts. Credentials come from the kubeconfig or the ServiceAccount, never
    from a netrc."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rest = self.rest_client
        trusting = rest.pool_manager
        connector = trusting.connector
        trusting.detach()  # its connector (TLS settings, pool size) goes to the new session
        rest.pool_manager = aiohttp.ClientSession(connector=connector, trust_env=False,
                                                  read_bufsize=READ_BUFSIZE)
        if not rest.proxy:
            rest.proxy, headers = env_proxy(self.configuration.host)
            if headers:
                rest.proxy_headers = headers

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
