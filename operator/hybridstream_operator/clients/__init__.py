"""I/O adapters: Kubernetes (observe and apply), Prometheus (instant queries). Functions
here are ``fetch_*`` / ``apply_*`` / ``patch_*``; they decide nothing."""
