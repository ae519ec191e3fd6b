"""A fault-injection seam, so the crash tests can kill the loader at a chosen stage.

The writers call `checkpoint(stage)` at their stage boundaries. Normally that does nothing (one
environment lookup). When `FAIRTRACKS_LD_PAUSE_AT` names the stage (`STAGE`, or `STAGE#N`: its
N-th pass, for a stage passed once per graph), the process writes its pid to
the file `FAIRTRACKS_LD_PAUSE_FILE` and sleeps until that file is removed: the test SIGKILLs it
there, or removes the file to let it go on. While `FAIRTRACKS_LD_PAUSE_AT` is set every stage
passed is also printed to stderr (`checkpoint STAGE`), so a test can tell how far a process got.

Stages, in the order a load passes them: `parse` (a source was read, before it is parsed), `staging`
(a version already catalogued is being replaced: the slow path), `bulk-write` (the version graph is
written, its report is not), `validated` (the version graph is written and validated, its report is
not), `recorded` (the version's records are in place, no catalog entry names them yet:
store/records.py), `merging` (before validation in the store, before the catalog update and before
the settle's last update: waiting until RocksDB takes ordinary writes again after bulk-loader
calls), `ingested` (everything is written, the one catalog update that makes it visible comes next),
`view-pending` (just after it, the view change noted but not settled), `view-adding` (after each
block the settle copies into the view), `catalog-updated` (the view settled too), `settle` (a big
write's publish waits for RocksDB's compactions before it takes the snapshot, compaction.py),
`publish` (the snapshot is copied, the `current` link not yet switched to it); `removing`, after
each bounded transaction that removes a refused or failed write's graph (or debris); and
`optimizing`, where `optimize` (a big load's background compaction, store/optimizer.py) holds the
writer lock and starts compacting.

A graph replaced (or dropped) by store/swap.py passes, per graph: `swap-staged` (its new content
is in a staging graph nothing names), `swap-noted` (the catalog notes the swap: the next writer
finishes it), `swap-removing` / `swap-adding` (after each transaction removing from it, each
call adding to it, the view first), `swap-switched` (the note is dropped) and `swap-unstaging`
(after each transaction removing the staging graph).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

PAUSE_AT = "FAIRTRACKS_LD_PAUSE_AT"
PAUSE_FILE = "FAIRTRACKS_LD_PAUSE_FILE"
_passed: dict[str, int] = {}  # stage → passes so far (only counted while a test pauses)


def checkpoint(stage: str) -> None:
    """Pause here if a test asked for this stage (see the module docstring)."""
    wanted = os.environ.get(PAUSE_AT)
    if wanted is None:
        return
    print(f"checkpoint {stage}", file=sys.stderr, flush=True)
    _passed[stage] = _passed.get(stage, 0) + 1
    name, _, nth = wanted.partition("#")
    if name != stage or _passed[stage] != int(nth or 1):
        return
    marker = Path(os.environ.get(PAUSE_FILE, f"fairtracks-ld-paused-{os.getpid()}"))
    marker.write_text(f"{os.getpid()} {stage}\n")
    while marker.exists():
        time.sleep(0.02)
