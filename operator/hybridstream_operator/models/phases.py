"""The phases a rollout walks through (the ``PHASE`` printer column).

```
Pending → Canary → Parallel → Cutover[0..n-1] → Production
   any active phase ──breach/alert/abort──→ RollingBack → RolledBack ──retry──→ Canary
   any active phase ──pause/hold/step-back──→ Paused ──resume──→ (the phase it left)
```
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PENDING = "Pending"  # accepted, nothing created yet
    CANARY = "Canary"  # hybrid runs monitor-only beside legacy
    PARALLEL = "Parallel"  # hybrid compares its prices with REST, still no forwarding
    CUTOVER = "Cutover"  # hybrid forwards a share of symbols (status.stepIndex)
    PRODUCTION = "Production"  # hybrid forwards everything; legacy retired after the bake
    PAUSED = "Paused"  # progression held (manual pause or an analysis hold)
    ROLLING_BACK = "RollingBack"  # handing every symbol back to legacy
    ROLLED_BACK = "RolledBack"  # legacy forwards everything; hybrid scaled down after a delay


#: Phases that progress on their own and whose metrics are measured.
PROGRESSING = (Phase.CANARY, Phase.PARALLEL, Phase.CUTOVER, Phase.PRODUCTION)
#: Phases an abort or a rollback verdict can leave.
ABORTABLE = (*PROGRESSING, Phase.PAUSED)
