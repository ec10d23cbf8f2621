"""Fixtures every tier can use: a real control plane (kwok binary runtime) and real
Prometheus servers. Both start only when a test asks for them."""

pytest_plugins = ["tests.plugins.cluster", "tests.plugins.prometheus"]
