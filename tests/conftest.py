"""Fixtures every tier can use: a real control plane (kwok binary runtime), real
Prometheus, Alertmanager and PostgreSQL servers, a headless Chromium. Each starts only when
a test asks for it."""

pytest_plugins = ["tests.plugins.cluster", "tests.plugins.prometheus",
                  "tests.plugins.alertmanager", "tests.plugins.postgres",
                  "tests.plugins.browser", "tests.plugins.pod_proxy"]
