"""The HybridStreamRollout operator: walks a stream from REST polling to the hybrid
WebSocket stream and rolls it back when Prometheus says it is unhealthy."""

__version__ = "0.1.0"
