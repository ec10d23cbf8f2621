"""The development stack in Python: the kind cluster with our images, the e2e/demo
deployment built as data, and ``make demo``. Shell under hack/ only bootstraps (Docker,
Kubernetes binaries, base and node images); nothing here is shipped in an image."""
