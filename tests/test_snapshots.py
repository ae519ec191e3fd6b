"""Replaced snapshots are collected once no reader can still be opening them
(snapshots.collect_replaced), by the next publish or by the server's reader once the grace has
passed after the last one, and removing a snapshot's folder does not harm a reader that has it
open, which is what makes collecting them safe."""

from __future__ import annotations

import os
import shutil
import time

import pyoxigraph as ox
import pytest

from fairtracks_ld.store import TrackStore, snapshots
from fairtracks_ld.store.snapshots import (
    GRACE_SECONDS,
    SnapshotReader,
    collect_replaced,
    current_snapshot,
    publish,
    snapshot_dir,
)

EX = "http://example.org/"


def _add(store: TrackStore, n: int) -> None:
    store.ox.extend(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p"), ox.Literal(str(i)),
                            ox.DefaultGraph()) for i in range(n))


def _age(folder, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(folder, (past, past))


@pytest.fixture
def published(store):
    """Three snapshots, oldest first; the last is current."""
    made = []
    for n in (10, 20, 30):
        _add(store, n)
        made.append(publish(store))
    return store, made


def test_a_snapshot_replaced_longer_ago_than_the_grace_is_removed(published):
    store, (first, second, third) = published
    assert current_snapshot(store.path) == third
    assert collect_replaced(snapshot_dir(store.path), third.name) == []  # all just replaced
    _age(second, GRACE_SECONDS + 60)  # the first stopped being current when the second came
    assert collect_replaced(snapshot_dir(store.path), third.name) == [first]
    assert not first.exists() and second.exists() and third.exists()


def test_the_grace_counts_from_the_replacement_not_from_the_snapshots_own_age(published):
    store, (first, second, third) = published
    _age(first, 10 * GRACE_SECONDS)  # made long ago, but replaced only now
    _age(second, 10 * GRACE_SECONDS)
    assert collect_replaced(snapshot_dir(store.path), third.name) == [first]
    assert second.exists()  # replaced by the third a moment ago: a reader may be opening it


def test_publish_collects_what_past_publishes_replaced(published):
    store, (_, second, third) = published
    _age(second, GRACE_SECONDS + 60)
    _age(third, GRACE_SECONDS + 60)
    _add(store, 40)
    fourth = publish(store)
    kept = sorted(p.name for p in snapshot_dir(store.path).iterdir() if p.name.isdigit())
    assert kept == [third.name, fourth.name]


def _snapshots(store: TrackStore) -> list[str]:
    return sorted(p.name for p in snapshot_dir(store.path).iterdir() if p.name.isdigit())


def _until(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_servers_reader_collects_what_the_last_publish_replaced(published, monkeypatch):
    """No publish follows the last one: the server's reader removes its predecessors once the
    grace has passed (a timer at start), then those of a snapshot it switches to."""
    store, (_, _, third) = published
    monkeypatch.setattr(snapshots, "GRACE_SECONDS", 0.5)
    reader = SnapshotReader(store.path, collects=True)
    assert reader.store().path == third
    assert _until(lambda: _snapshots(store) == [third.name])
    _add(store, 40)
    fourth = publish(store)  # replaces the third a moment ago: kept by this publish
    assert _snapshots(store) == [third.name, fourth.name]
    assert reader.store().path == fourth  # the reader switches: a timer again
    assert _until(lambda: _snapshots(store) == [fourth.name])
    assert [row["o"].value for row in reader.store().ox.query(
        f"SELECT ?o {{ <{EX}s39> ?p ?o }}")] == ["39"]


def test_other_readers_collect_nothing(published, monkeypatch):
    store, (first, second, third) = published
    monkeypatch.setattr(snapshots, "GRACE_SECONDS", 0.2)
    reader = SnapshotReader(store.path)  # a command-line reader, a query worker's
    reader.store()
    time.sleep(1.5)
    assert _snapshots(store) == [first.name, second.name, third.name]


def _open_files(folder) -> set[str]:
    opened = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            opened.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return {name for name in opened if name.startswith(str(folder))}


def test_a_reader_keeps_reading_a_snapshot_whose_folder_was_removed(published):
    _, (first, _, _) = published
    reader = TrackStore(first, read_only=True)
    tables = {str(p) for p in first.iterdir() if p.suffix == ".sst"}
    assert tables and tables <= _open_files(first)  # every table file is open from the start
    before = sorted(str(q) for q in reader.ox.quads_for_pattern(None, None, None))
    shutil.rmtree(first)
    assert sorted(str(q) for q in reader.ox.quads_for_pattern(None, None, None)) == before
    assert [row["o"].value for row in reader.ox.query(f"SELECT ?o {{ <{EX}s3> ?p ?o }}")] == ["3"]
