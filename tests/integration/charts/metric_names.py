"""Series names the stream and the operator really export, read from their own metric
registries, so the chart's alerts and dashboard can be checked against the code instead of
a copied list."""

from __future__ import annotations

import re

from hybridstream.service.metrics import StreamMetrics
from hybridstream_operator.handlers.observability import REGISTRY as OPERATOR_REGISTRY
from prometheus_client import CollectorRegistry

#: Metric names in a PromQL expression (ours and the process collector's).
METRIC_NAME = re.compile(r"\b((?:hybridstream|process)_[a-z_]+)\b")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_sum", "_count", "_bucket"),
             "gauge": ("",)}


def series_names(registry: CollectorRegistry) -> set[str]:
    """Every series name a registry exposes, labelled children or not."""
    names = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


def stream_series() -> set[str]:
    return series_names(StreamMetrics().registry)


def operator_series() -> set[str]:
    return series_names(OPERATOR_REGISTRY)
