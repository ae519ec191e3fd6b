"""`fairtracks-ld doctor`: each invariant, broken on a real store, is reported (exit 1); what is
safe to repair is repaired by --repair (exit 0 after), the rest is left with advice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest
import zstandard
from conftest import BASE, copy_folder, write_json

from fairtracks_ld import reasoning
from fairtracks_ld.mapping.namespaces import FT, RDF_TYPE
from fairtracks_ld.search.segments import GRACE_SECONDS
from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore, members, records, report_graph
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


def test_a_leftover_companion_of_stored_links_is_found_and_dropped(store):
    """A companion graph of an earlier layout's stored ancestor links that outlived the
    migration (its layout already recorded): doctor names it and --repair drops it, its links
    leaving the view with it (the track predicates answer through the closure instead)."""
    link = ox.Triple(ox.NamedNode(BASE + "track"), ox.NamedNode(FT + "cell_type_ancestor"),
                     ox.NamedNode(BASE + "term"))

    def leave(s: TrackStore, graph: str) -> None:
        companion = ox.NamedNode(reasoning.inferred_graph(graph))
        s.ox.extend([ox.Quad(link.subject, link.predicate, link.object, companion),
                     ox.Quad(link.subject, link.predicate, link.object, ox.DefaultGraph())])

    damage(store, leave)
    found = doctor(store)
    assert found.returncode == 1
    assert "1 version(s) keep a companion graph of stored ancestor links" in found.stdout, \
        found.stdout
    repaired = doctor(store, "--repair")
    assert repaired.returncode == 0 and "repaired:" in repaired.stdout, repaired.stdout
    assert doctor(store).returncode == 0
    opened = TrackStore(store, base=BASE, read_only=True)
    graph, = (v.graph for v in opened.versions())
    assert not opened.has_graph(reasoning.inferred_graph(graph))
    assert ox.Quad(link.subject, link.predicate, link.object, ox.DefaultGraph()) not in opened.ox
    del opened


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s, g: (s.ox.remove_graph(ox.NamedNode(g)), s.ox.remove(ox.Quad(  # or its mark
        ox.NamedNode(g), ox.NamedNode(RDF_TYPE), ox.NamedNode(members.STORED_ONCE),
        ox.NamedNode(members.graph(s))))), "but the store has no such graph"),
    (lambda s, g: s.ox.remove_graph(ox.NamedNode(report_graph(g))),
     "has lost its validation report graph"),
    (lambda s, g: s.ox.update(
        f"INSERT DATA {{ GRAPH <{s.catalog}> {{ <{BASE}doc> ft:current_version <{BASE}nowhere> "
        "} }", prefixes={"ft": "https://w3id.org/fairtracks-ld/vocab#"}),
     "which the catalog does not record"),
    (lambda s, g: records.path_of(s, g).unlink(),  # stored once: its only exact copy
     "is stored once (its triples only in the current view) and has lost its record file"),
], ids=["version-graph", "report-graph", "current-version", "record-of-a-version-stored-once"])
def test_lost_data_is_reported_with_advice_and_not_made_up(store, change, expected):
    damage(store, change)
    found = doctor(store, "--repair")
    assert found.returncode == 1
    assert expected in found.stdout and ("load" in found.stdout)


def test_debris_is_swept_and_graphs_of_others_are_kept(store):
    orphan = f"{BASE}collection/x/document/y/version/z"

    def plant(s: TrackStore, _: str) -> None:
        for graph in (orphan, report_graph(orphan), f"{BASE}graph/staging/abc", MINE):
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


@pytest.fixture
def two_versions(store, tmp_path) -> Path:
    """The store with a second version of the example loaded: two version graphs, each with
    its record (the first one history)."""
    document = json.loads(Path(MASTER).read_text(encoding="utf-8"))
    document["doc_info"]["doc_version"] += "-2"
    second = write_json(tmp_path / "second.json", document)
    loaded = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                             "--base-iri", BASE, "load", str(second)],
                            capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    return store


def test_a_lost_wrong_or_unnamed_record_is_found_and_repaired(two_versions):
    store = two_versions
    opened = TrackStore(store, base=BASE)
    old, new = opened.versions()
    lost, wrong = records.path_of(opened, old.graph), records.path_of(opened, new.graph)
    held = {str(q) for q in opened.graph_quads(old.graph)}
    del opened
    lost.unlink()
    wrong.write_bytes(zstandard.ZstdCompressor().compress(b"".join(
        list(records.blocks(wrong, size=64))[:1])))  # fewer triples than the graph
    unnamed = records.folder(store) / "ab" / ("ab" * 32 + "-0123456789abcdef.nt.zst")
    unnamed.parent.mkdir(exist_ok=True)
    unnamed.write_bytes(b"a record no catalog entry names")
    found = doctor(store)
    assert found.returncode == 1
    assert "1 version graph(s) have no record" in found.stdout, found.stdout
    assert f"the record of <{new.graph}> holds" in found.stdout
    assert "1 unnamed record file(s)" in found.stdout
    assert doctor(store, "--repair").returncode == 0
    assert doctor(store).returncode == 0
    assert not unnamed.exists()
    opened = TrackStore(store, base=BASE, read_only=True)
    for name in (old.graph, new.graph):
        again = b"".join(records.blocks(records.path_of(opened, name)))
        assert {str(q) for q in ox.parse(again, format=ox.RdfFormat.N_TRIPLES)} == {
            str(ox.Triple(q.subject, q.predicate, q.object)) for q in opened.graph_quads(name)}
    assert len(held) == records.triples(records.path_of(opened, old.graph))
    del opened


def test_a_record_of_a_graph_the_store_does_not_hold_as_a_version_is_forgotten(store):
    """A catalog naming the record of a graph that is no version (e.g. a companion of an earlier
    layout, dropped by hand): doctor names it and --repair forgets it, its file removed."""
    opened = TrackStore(store, base=BASE)
    graph, = (v.graph for v in opened.versions())
    stray = reasoning.inferred_graph(graph)
    opened.ox.add(ox.Quad(ox.NamedNode(BASE + "s"), ox.NamedNode(BASE + "p"), ox.Literal("o"),
                          ox.NamedNode(stray)))
    name = records.write_from_store(opened, stray)
    opened.ox.remove_graph(ox.NamedNode(stray))
    opened.flush()
    del opened
    found = doctor(store)
    assert found.returncode == 1
    assert ("the catalog names the record of 1 graph(s) the store does not hold as a version, "
            f"e.g. <{stray}>") in found.stdout, found.stdout
    assert doctor(store, "--repair").returncode == 0
    assert doctor(store).returncode == 0
    opened = TrackStore(store, base=BASE, read_only=True)
    assert set(records.names(opened)) == {graph}
    del opened
    assert not (records.folder(store) / name).exists()


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
