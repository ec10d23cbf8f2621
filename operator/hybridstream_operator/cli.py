"""``hybridstream-operator`` / ``python -m hybridstream_operator``: wiring only — parse
flags, import the handlers, hand over to kopf."""

from __future__ import annotations

import argparse
import logging
import os
import sys

import kopf

from hybridstream_operator.handlers import operator as handlers
from hybridstream_operator.logic.peering import decide_priority

PRIORITY_ENV = "HYBRIDSTREAM_PRIORITY"


def build_parser() -> argparse.ArgumentParser:
    """Flags of ``hybridstream-operator``."""
    p = argparse.ArgumentParser(prog="hybridstream-operator", description=__doc__)
    p.add_argument("-n", "--namespace", action="append", default=[],
                   help="watch only this namespace (repeatable); default: cluster-wide")
    p.add_argument("--standalone", action="store_true",
                   help="no peering (a single replica; HA needs the kopf peering CRDs)")
    p.add_argument("--peering", default="hybridstream-operator",
                   help="KopfPeering/ClusterKopfPeering object shared by the replicas")
    configured = os.environ.get(PRIORITY_ENV, "").strip()
    p.add_argument("--priority", type=int, default=int(configured) if configured else None,
                   help=f"peering priority: the highest running replica works, others wait "
                   f"(default: ${PRIORITY_ENV}, else derived from $POD_NAME, else 0)")
    p.add_argument("--liveness", default="http://0.0.0.0:8081/healthz",
                   help="kopf liveness endpoint URL")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse flags and run kopf until a signal stops it."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ[handlers.SCOPE_ENV] = ",".join(args.namespace)
    priority = decide_priority(args.priority, os.environ.get("POD_NAME"))
    if not args.standalone:
        logging.getLogger(__name__).info("peering %r with priority %d", args.peering, priority)
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace or None,
        standalone=args.standalone,
        # kopf 1.45 waits forever for the peering CRD when given a peering name in
        # standalone mode ("blockers: peering CRD is missing"): pass the name only with peering
        peering_name=None if args.standalone else args.peering,
        priority=priority,
        liveness_endpoint=args.liveness,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
