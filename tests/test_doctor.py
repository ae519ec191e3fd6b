"""`fairtracks-ld doctor`: each invariant, broken on a real store, is reported (exit 1); what is
safe to repair is repaired by --repair (exit 0 after), the rest is left with advice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest
import zstandard
from conftest import BASE, copy_folder

from fairtracks_ld import reasoning
from fairtracks_ld.search.segments import GRACE_SECONDS
from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore, records, report_graph
from fairtracks_ld.store.snapshots import CURRENT, snapshot_dir

MASTER = str(example_documents()["master"])
MINE = "http://example.org/my-own-graph"


def doctor(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                           "--base-iri", BASE, "doctor", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("doctor")
    loaded = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store",
                             str(folder / "store"), "--base-iri", BASE, "load", MASTER],
                            capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    return folder


@pytest.fixture
def store(template, tmp_path) -> Path:
    """A private copy of the template store (store, snapshots, lock file)."""
    return copy_folder(template, tmp_path)


def damage(store: Path, change: Callable[[TrackStore, str], None]) -> None:
    """Open the primary store and break something (given the one version graph)."""
    opened = TrackStore(store, base=BASE)
    graph, = (v.graph for v in opened.versions())
    change(opened, graph)
    opened.flush()
    del opened


def test_a_fresh_store_is_healthy(store):
    result = doctor(store)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("healthy")


def test_a_missing_companion_is_recomputed(store):
    damage(store, lambda s, g: s.ox.remove_graph(ox.NamedNode(reasoning.inferred_graph(g))))
    found = doctor(store)
    assert found.returncode == 1 and "has no inferred companion" in found.stdout
    repaired = doctor(store, "--repair")
    assert repaired.returncode == 0 and "repaired:" in repaired.stdout
    assert doctor(store).returncode == 0


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s, g: s.ox.remove_graph(ox.NamedNode(g)), "but the store has no such graph"),
    (lambda s, g: s.ox.remove_graph(ox.NamedNode(report_graph(g))),
     "has lost its validation report graph"),
    (lambda s, g: s.ox.update(
        f"INSERT DATA {{ GRAPH <{s.catalog}> {{ <{BASE}doc> ft:current_version <{BASE}nowhere> "
        "} }", prefixes={"ft": "https://w3id.org/fairtracks-ld/vocab#"}),
     "which the catalog does not record"),
], ids=["version-graph", "report-graph", "current-version"])
def test_lost_data_is_reported_with_advice_and_not_made_up(store, change, expected):
    damage(store, change)
    found = doctor(store, "--repair")
    assert found.returncode == 1
    assert expected in found.stdout and ("load" in found.stdout)


def test_debris_is_swept_and_graphs_of_others_are_kept(store):
    orphan = f"{BASE}collection/x/document/y/version/z"

    def plant(s: TrackStore, _: str) -> None:
        for graph in (orphan, orphan + "/inferred", f"{BASE}graph/staging/abc", MINE):
            s.ox.add(ox.Quad(ox.NamedNode(BASE + "s"), ox.NamedNode(BASE + "p"),
                             ox.Literal("o"), ox.NamedNode(graph)))

    damage(store, plant)
    (store / "bulk-1234.sst").write_bytes(b"half a bulk load")
    (snapshot_dir(store) / "99999999999999999999").mkdir()  # a publish killed halfway
    (snapshot_dir(store) / f".{CURRENT}.4242").symlink_to("nowhere")
    found = doctor(store)
    assert found.returncode == 1
    assert ("3 uncatalogued graph(s), 1 bulk file(s), 2 unfinished snapshot(s)"
            in found.stdout), found.stdout
    assert doctor(store, "--repair").returncode == 0
    assert doctor(store).returncode == 0
    opened = TrackStore(store, base=BASE)
    graphs = {g.value for g in opened.ox.named_graphs()}
    assert MINE in graphs and orphan not in graphs
    del opened
    assert not list(store.glob("bulk-*.sst"))


def test_a_lost_wrong_or_unnamed_record_is_found_and_repaired(store):
    opened = TrackStore(store, base=BASE)
    graph, = (v.graph for v in opened.versions())
    companion = reasoning.inferred_graph(graph)
    lost, wrong = records.path_of(opened, graph), records.path_of(opened, companion)
    held = {str(q) for q in opened.graph_quads(graph)}
    del opened
    lost.unlink()
    wrong.write_bytes(zstandard.ZstdCompressor().compress(b"".join(
        list(records.blocks(wrong, size=64))[:1])))  # fewer triples than the graph
    unnamed = records.folder(store) / "ab" / ("ab" * 32 + "-0123456789abcdef.nt.zst")
    unnamed.parent.mkdir(exist_ok=True)
    unnamed.write_bytes(b"a record no catalog entry names")
    found = doctor(store)
    assert found.returncode == 1
    assert "1 version or companion graph(s) have no record" in found.stdout, found.stdout
    assert f"the record of <{companion}> holds" in found.stdout
    assert "1 unnamed record file(s)" in found.stdout
    assert doctor(store, "--repair").returncode == 0
    assert doctor(store).returncode == 0
    assert not unnamed.exists()
    opened = TrackStore(store, base=BASE, read_only=True)
    for name in (graph, companion):
        again = b"".join(records.blocks(records.path_of(opened, name)))
        assert {str(q) for q in ox.parse(again, format=ox.RdfFormat.N_TRIPLES)} == {
            str(ox.Triple(q.subject, q.predicate, q.object)) for q in opened.graph_quads(name)}
    assert len(held) == records.triples(records.path_of(opened, graph))
    del opened


def test_a_missing_or_stale_snapshot_is_published(store):
    (snapshot_dir(store) / CURRENT).unlink()
    found = doctor(store)
    assert found.returncode == 1 and "no published snapshot" in found.stdout
    assert doctor(store, "--repair").returncode == 0
    damage(store, lambda s, g: s.mark_modified())  # a write nobody published
    stale = doctor(store)
    assert stale.returncode == 1 and "older than the store's catalog" in stale.stdout
    assert doctor(store, "--repair").returncode == 0
    assert doctor(store).returncode == 0


def test_segments_of_unknown_versions_are_removed(store):
    segments = snapshot_dir(store) / "search-segments"
    segments.mkdir(exist_ok=True)  # holding the segments the writer made
    (segments / "0123456789abcdef0123456789abcdef.npz").write_bytes(b"old")
    (segments / "0123456789abcdef0123456789abcdef.npz.lock").write_bytes(b"")
    recent = segments / "fedcba9876543210fedcba9876543210.npz"  # servers may still read it
    assert doctor(store).returncode == 0  # within the grace period: not stale yet
    past_grace = time.time() - GRACE_SECONDS - 60
    for path in segments.iterdir():  # the current version's segment too: it stays
        os.utime(path, (past_grace, past_grace))
    recent.write_bytes(b"new")
    found = doctor(store)
    assert found.returncode == 1 and "2 search segment file(s)" in found.stdout
    assert doctor(store, "--repair").returncode == 0
    left = {path.name for path in segments.iterdir()}
    assert recent.name in left and not any(name.startswith("0123456789") for name in left)


def test_doctor_of_no_store_is_one_line(tmp_path):
    result = doctor(tmp_path / "absent")
    assert result.returncode == 1
    assert result.stderr == f"error: no store at {tmp_path / 'absent'}\n"
