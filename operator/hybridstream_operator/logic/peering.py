"""The kopf peering priority of one operator replica.

kopf pauses every replica that sees a live peer of the same or a higher priority (kopf docs,
"Peering": "Possibly conflicting operators with the same priority" pauses both). The
replicas of one Deployment share their flags and environment, so a configured priority is
the same everywhere and every replica would pause. Without one, each replica derives its
own from its pod name (downward API ``POD_NAME``), which is unique among live pods: stable
for the pod's life (a container restart keeps it) and identical on every Python (sha256,
never the per-process salted built-in ``hash()``).
"""

from __future__ import annotations

import hashlib

#: Derived priorities lie in ``[1, PRIORITY_SPAN]``: above the default 0 of a replica that
#: has neither a priority nor a pod name, and inside a signed 32-bit integer.
PRIORITY_SPAN = 2**31 - 1


def derive_priority(pod_name: str) -> int:
    """A stable priority for ``pod_name``: the first 8 bytes of its SHA-256, folded into
    ``[1, PRIORITY_SPAN]`` (two pods collide with probability ~1/2**31)."""
    digest = hashlib.sha256(pod_name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % PRIORITY_SPAN + 1


def decide_priority(configured: int | None, pod_name: str | None) -> int:
    """The priority to run with: the configured one (``--priority`` or
    ``HYBRIDSTREAM_PRIORITY``) when set, else one derived from the pod name, else 0."""
    if configured is not None:
        return configured
    return derive_priority(pod_name) if pod_name else 0
