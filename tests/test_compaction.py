"""A big write is published once RocksDB's own compactions have finished (compaction.py): the
snapshot readers get holds no more table files than the store settles to; a small write is
published at once; a process killed while it waits leaves a store that opens with every quad."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import BASE, write_json

from fairtracks_ld.faults import PAUSE_AT, PAUSE_FILE
from fairtracks_ld.generate import generate_documents
from fairtracks_ld.store.compaction import BYTES_ENV, table_files
from fairtracks_ld.store.snapshots import current_snapshot

ALWAYS, NEVER = "0", str(10**15)  # thresholds in bytes: every write settles / none does


def command(store: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
            *args]


def run(store: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command(store, *args), capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, **(env or {})))
    assert result.returncode == 0, result.stderr
    return result


def stats(store: Path) -> dict:
    return json.loads(run(store, "stats").stdout)


def settled_files(store: Path) -> int:
    """How many table files the store holds once RocksDB, given the store open for writing,
    has no compaction left to do (no change for 1.5 s)."""
    opened = ox.Store(str(store))
    last, since = table_files(store), time.monotonic()
    while time.monotonic() - since < 1.5:
        time.sleep(0.1)
        if (now := table_files(store)) != last:
            last, since = now, time.monotonic()
    del opened
    return len(last)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    document, = generate_documents(tracks=50, seed=3, tracks_per_document=50)
    return str(write_json(tmp_path_factory.mktemp("docs") / "gen-50.json", document))


def loaded(folder: Path, corpus: str, threshold: str) -> Path:
    store = folder / "store"
    run(store, "load", "--bulk", corpus, env={BYTES_ENV: threshold})
    return store


@pytest.fixture(scope="module")
def settled(tmp_path_factory, corpus) -> Path:
    return loaded(tmp_path_factory.mktemp("settled"), corpus, ALWAYS)


def test_a_big_write_is_published_once_rocksdb_has_merged_its_files(settled):
    published = stats(settled)["published_snapshot"]
    record = published["compaction"]
    assert record["waited"] and record["quiet"]
    assert record["new_bytes"] > 0 and record["threshold"] == 0
    assert published["table_files"] == len(table_files(current_snapshot(settled)))
    assert published["table_files"] <= settled_files(settled)


def test_a_write_below_the_threshold_is_published_at_once(tmp_path, corpus, settled):
    """Not waited for, the snapshot holds the files as the load closed them: usually more than
    RocksDB settles to (what the wait is for), but whether its background merges finished before
    the process exited is a race, so only the decision and the content are checked here."""
    store = loaded(tmp_path, corpus, NEVER)
    published = stats(store)["published_snapshot"]
    assert not published["compaction"]["waited"] and published["compaction"]["seconds"] == 0
    assert published["table_files"] >= settled_files(store)
    assert stats(store)["quads"] == stats(settled)["quads"]


def test_a_load_killed_while_it_waits_leaves_a_store_with_every_quad(tmp_path, corpus, settled):
    store = tmp_path / "store"
    marker = tmp_path / "paused"
    process = subprocess.Popen(
        command(store, "load", "--bulk", corpus), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ, **{BYTES_ENV: ALWAYS, PAUSE_AT: "merge-wait",
                                           PAUSE_FILE: str(marker)}))
    deadline = time.time() + 300
    while not marker.exists():
        assert process.poll() is None and time.time() < deadline, process.communicate()[1]
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # RocksDB's threads are still merging files
    process.communicate()
    assert current_snapshot(store) is None  # killed before its snapshot
    after, expected = stats(store), stats(settled)  # `stats` publishes the store as it is
    for key in ("quads", "current_view_triples", "document_versions", "current_view"):
        assert after[key] == expected[key]
    run(store, "doctor")


def test_a_threshold_that_is_not_a_number_is_named_and_the_default_used(tmp_path):
    store = tmp_path / "store"
    result = run(store, "load", str(Path(__file__).parent.parent / "standard" / "master" /
                                     "examples" / "fairtracks.example.json"),
                 env={BYTES_ENV: "lots"})
    assert f"warning: {BYTES_ENV}='lots' is not a number >= 0; using 67108864" in result.stderr
    assert stats(store)["published_snapshot"]["compaction"]["threshold"] == 64 * 1024 * 1024
