"""Thin entry points: kopf handlers, the reconcile pass, the Alertmanager webhook and the
operator's own metrics/health server."""
