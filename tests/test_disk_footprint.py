"""fairtracks_ld.store.disk.footprint: a file named by several hard links (a snapshot's
files are links to the store's) is counted once, across every root given."""

from __future__ import annotations

import os
from pathlib import Path

from fairtracks_ld.store.disk import footprint


def test_hard_links_count_once_across_roots(tmp_path: Path) -> None:
    store, snapshot = tmp_path / "store", tmp_path / "store.snapshots"
    store.mkdir()
    snapshot.mkdir()
    (store / "000001.sst").write_bytes(os.urandom(64 * 1024))
    os.link(store / "000001.sst", snapshot / "000001.sst")
    one = footprint(store)
    assert one >= 64 * 1024
    assert footprint(store, snapshot) == one == footprint(snapshot)
    (snapshot / "000002.sst").write_bytes(os.urandom(64 * 1024))  # a file only the snapshot has
    assert footprint(store, snapshot) == one + footprint(snapshot / "000002.sst") > one
