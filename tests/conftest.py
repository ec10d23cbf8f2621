"""Fixtures every tier can use: a real control plane (kwok binary runtime), real
Prometheus and real Alertmanager servers, a headless Chromium. Each starts only when a test
asks for it."""

pytest_plugins = ["tests.plugins.cluster", "tests.plugins.prometheus",
                  "tests.plugins.alertmanager", "tests.plugins.browser"]
