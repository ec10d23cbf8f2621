"""The one way every process here reaches the Kubernetes API: the stream pods, the
operator and ``kubectl hsr`` (which differ only in whether a Pod's ServiceAccount may be
used)."""

from __future__ import annotations

import os
from typing import Any

from kubernetes_asyncio import client, config


async def build_api_client(*, config_file: str | None = None, context: str | None = None,
                           in_cluster: bool = True) -> tuple[client.ApiClient,
                                                            dict[str, Any] | None]:
    """An API client and the kubeconfig context it uses (None in a Pod). In a Pod
    (``KUBERNETES_SERVICE_HOST``) with ``in_cluster`` and no explicit file or context: its
    ServiceAccount; else ``config_file``, ``$KUBECONFIG`` or ``~/.kube/config``, as kubectl
    reads them. Raises ``kubernetes_asyncio.config.ConfigException`` when there is none."""
    explicit = config_file is not None or context is not None
    if in_cluster and not explicit and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
        return client.ApiClient(), None
    loader = await config.load_kube_config(
        config_file=config_file or os.environ.get("KUBECONFIG"), context=context)
    return client.ApiClient(), loader.current_context
