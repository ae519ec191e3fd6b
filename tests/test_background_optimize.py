"""A big load's background compaction (store/optimizer.py): the load returns, a process of its
own compacts the store and publishes a snapshot of the same data; the next writer stops it at
once and loses nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fairtracks_ld.faults import PAUSE_AT, PAUSE_FILE
from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore
from fairtracks_ld.store.optimizer import SHARE_ENV, log_path, missing_room
from fairtracks_ld.store.snapshots import current_snapshot
from fairtracks_ld.web.serve import _publish_first

BASE = "http://localhost:8000/"
EXAMPLES = example_documents()
BIG = {SHARE_ENV: "0.25", "FAIRTRACKS_LD_MERGE_WAIT_BYTES": "1"}  # every load counts as big


def run(store: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                           "--base-iri", BASE, *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, **env))


def view(store: Path) -> set[str]:
    """The current view's triples, read from the published snapshot."""
    snapshot = TrackStore(current_snapshot(store), base=BASE, read_only=True)
    return {str(t) for t in snapshot.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")}


def until(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def ended(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")


def test_a_big_load_is_compacted_in_the_background_with_the_same_data(tmp_path):
    store, control = tmp_path / "store", tmp_path / "control"
    result = run(store, "load", str(EXAMPLES["master"]), env=BIG)
    assert result.returncode == 0, result.stderr
    assert "compacting the store in the background" in result.stderr
    log = log_path(store)
    until(lambda: log.exists() and "optimized in" in log.read_text())  # and published
    assert "Traceback" not in log.read_text()
    plain = run(control, "load", str(EXAMPLES["master"]), env={SHARE_ENV: "0"})
    assert "in the background" not in plain.stderr and not log_path(control).exists()
    assert view(store) == view(control)


def test_the_next_writer_stops_a_background_compaction_and_loses_nothing(tmp_path):
    store, marker = tmp_path / "store", tmp_path / "paused"
    paused = dict(BIG, **{PAUSE_AT: "optimizing", PAUSE_FILE: str(marker)})
    assert run(store, "load", str(EXAMPLES["master"]), env=paused).returncode == 0
    until(lambda: marker.exists() and marker.read_text().strip())
    pid = int(marker.read_text().split()[0])  # the optimizer: holds the lock, compacts next
    try:
        started = time.monotonic()
        second = run(store, "load", "--allow-invalid", str(EXAMPLES["v1-current"]),
                     env={SHARE_ENV: "0"})
        assert second.returncode == 0, second.stderr
        assert time.monotonic() - started < 60
        until(lambda: ended(pid), 30)
    finally:
        marker.unlink(missing_ok=True)  # a paused optimizer left behind goes on and ends
    control = tmp_path / "control"
    for source in (["load", str(EXAMPLES["master"])],
                   ["load", "--allow-invalid", str(EXAMPLES["v1-current"])]):
        assert run(control, *source, env={SHARE_ENV: "0"}).returncode == 0
    assert view(store) == view(control)


def test_no_background_compaction_without_the_disk_it_may_need(tmp_path):
    """A full compaction may write the store's size again before it frees the old files."""
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    free = shutil.disk_usage(tmp_path).free
    with (snapshot / "000001.sst").open("wb") as table:  # sparse: sized, not written
        table.truncate(free + 10**9)
    assert missing_room(tmp_path, snapshot) >= 10**9
    (snapshot / "000001.sst").unlink()
    assert missing_room(tmp_path, snapshot) == 0


def test_a_server_starting_lets_the_background_compaction_finish(tmp_path):
    """`serve` publishes first only when it can: with the compaction holding the lock it serves
    the snapshot there is, and the compaction goes on to publish its own."""
    store, marker = tmp_path / "store", tmp_path / "paused"
    paused = dict(BIG, **{PAUSE_AT: "optimizing", PAUSE_FILE: str(marker)})
    assert run(store, "load", str(EXAMPLES["master"]), env=paused).returncode == 0
    until(lambda: marker.exists() and marker.read_text().strip())
    pid = int(marker.read_text().split()[0])
    try:
        _publish_first(store, BASE)
        assert not ended(pid)
    finally:
        marker.unlink(missing_ok=True)
    until(lambda: "optimized in" in log_path(store).read_text())
