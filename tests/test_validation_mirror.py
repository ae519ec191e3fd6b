"""A small document is validated in a memory copy of its graph written alongside the store's
(writing.MIRROR_BYTES), a big one in windows of that size (tests/test_validation_windows.py),
and its chunks share bulk-loader calls (current_view.GATHER): the findings and the store are
exactly those of validating in the store with a call per chunk, also when the copy is given up
halfway through the document (a document the windows do not apply to)."""

from __future__ import annotations

import copy
import json

import pyoxigraph as ox
from test_memo import canonical

from fairtracks_ld import writing
from fairtracks_ld.faults import PAUSE_AT
from fairtracks_ld.graph_removal import REMOVE_BATCH
from fairtracks_ld.load import load_sources
from fairtracks_ld.store import TrackStore, current_view
from fairtracks_ld.validation import Validator, Windows
from fairtracks_ld.validation.compiler import VALUES_GRAPH

BASE = "http://localhost:8000/"


NEVER = property(lambda self: False)  # Windows.applies when they do not


def in_the_store(monkeypatch) -> None:
    """Validate documents past MIRROR_BYTES in the store, as when windows do not apply."""
    monkeypatch.setattr(Windows, "applies", NEVER)


def test_validating_in_the_memory_copy_finds_and_stores_what_the_store_does(
        generated, tmp_path, monkeypatch):
    documents = [copy.deepcopy(d) for d in generated[:3]]
    broken = documents[1]["tracks"]
    del broken[0]["file_url"]  # sh:minCount
    broken[1]["experiment_ref"] = "gen:no-such-experiment"  # a reference to nothing
    broken[3]["file_format"] = {"term_id": "not a term"}  # pattern, ontology lookups
    broken[4]["raw_file_ids"] = ["geo:not-a-series"]  # a list (its cells hash IRIs), CURIE rules
    sources = []
    for index, document in enumerate(documents):
        path = tmp_path / f"doc-{index}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        sources.append(str(path))
    in_memory: list[bool] = []
    written = Validator.written

    def spy(self, data, graph, prepared, source, *args, scratch=False, **kwargs):
        in_memory.append(scratch)
        return written(self, data, graph, prepared, source, *args, scratch=scratch, **kwargs)

    monkeypatch.setattr(Validator, "written", spy)
    windows: list[str] = []
    add, applies = Windows.add, Windows.__dict__["applies"]

    def spy_add(self, data, graph):
        windows.append(graph)
        return add(self, data, graph)

    monkeypatch.setattr(Windows, "add", spy_add)
    outcomes = []
    # the default; in the store with a call per chunk (as before); the copy given up midway;
    # windows of the copy's size
    monkeypatch.setattr(current_view, "SMALL_WRITE", 0)  # every write bulk-loaded
    settings = ((writing.MIRROR_BYTES, current_view.GATHER, "copy"), (0, 1 << 16, "store"),
                (20_000, 1 << 16, "store"), (20_000, 1 << 16, "windows"))
    for mirror, gather, where in settings:
        monkeypatch.setattr(writing, "MIRROR_BYTES", mirror)
        monkeypatch.setattr(current_view, "GATHER", gather)
        monkeypatch.setattr(Windows, "applies", NEVER if where == "store" else applies)
        in_memory.clear()
        windows.clear()
        store = TrackStore(tmp_path / f"store-{mirror}-{where}", base=BASE)
        report = load_sources(store, sources, bulk=True, allow_invalid=True)
        assert report.ok, report.not_loaded
        findings = [sorted((f.pointer, f.severity, f.message, f.component or "")
                           for f in loaded.validation.findings) for loaded in report.loaded]
        outcomes.append((canonical(store), findings, [loaded.validation.valid
                                                      for loaded in report.loaded]))
        assert in_memory == ([where == "copy"] * len(sources) if where != "windows" else [])
        assert bool(windows) == (where == "windows")
    assert outcomes[0][2] == [True, False, True]
    assert {f[0] for f in outcomes[0][1][1] if f[1] == "Violation"} == {
        "/tracks/0/file_url", "/tracks/1/experiment_ref", "/tracks/3/file_format/term_id",
        "/tracks/4/raw_file_ids/0"}
    assert outcomes[0] == outcomes[1] == outcomes[2] == outcomes[3]


def test_validation_in_the_store_removes_its_value_sets_in_bounded_transactions(
        generated, tmp_path, monkeypatch, capfd):
    """Validation shares value sets through a scratch graph of the store it validates; removed
    by Oxigraph's remove_graph (one transaction) they held ~1.7 GB of deletions at the end of a
    1M-track document's validation. They now go in flushed transactions of REMOVE_BATCH quads
    (graph_removal), each passing the `removing-scratch` checkpoint, and none is left."""
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(generated[0]), encoding="utf-8")
    monkeypatch.setattr(writing, "MIRROR_BYTES", 0)  # validated in the store
    in_the_store(monkeypatch)
    monkeypatch.setenv(REMOVE_BATCH, "40")
    monkeypatch.setenv(PAUSE_AT, "none")  # every checkpoint passed is printed
    store = TrackStore(tmp_path / "store", base=BASE)
    report = load_sources(store, [str(path)], bulk=True, allow_invalid=True)
    assert report.ok, report.not_loaded
    assert capfd.readouterr().err.count("checkpoint removing-scratch") > 3
    assert ox.NamedNode(VALUES_GRAPH) not in set(store.ox.named_graphs())


def test_value_sets_reach_disk_before_the_shape_queries_run(generated, tmp_path, monkeypatch):
    """What a transaction writes stays in RocksDB's write buffers until they are flushed, and a
    query running meanwhile keeps the buffers of its start alive: at 1M tracks the value sets,
    buffered while the shape queries ran, took the validation phase from 1.73 to 2.13 GB. Each
    set is now written and flushed before any shape query starts. A flush starts a new
    write-ahead log (a higher-numbered *.log file), which nothing else of a validation does."""
    from fairtracks_ld.validation import engine

    path = tmp_path / "doc.json"
    path.write_text(json.dumps(generated[0]), encoding="utf-8")
    monkeypatch.setattr(writing, "MIRROR_BYTES", 0)  # validated in the store
    in_the_store(monkeypatch)
    folder = tmp_path / "store"

    def newest_log() -> int:
        return max(int(p.stem) for p in folder.glob("*.log"))

    logs: list[int] = []  # the newest log right after each value set was written
    queries: list[tuple[int, int]] = []  # (value sets written, newest log) as each query starts
    share, rows = engine._share, engine._rows

    def watched_share(*args, **kwargs):
        share(*args, **kwargs)
        logs.append(newest_log())

    def watched_rows(*args, **kwargs):
        queries.append((len(logs), newest_log()))
        return rows(*args, **kwargs)

    monkeypatch.setattr(engine, "_share", watched_share)
    monkeypatch.setattr(engine, "_rows", watched_rows)
    store = TrackStore(folder, base=BASE)
    report = load_sources(store, [str(path)], bulk=True, allow_invalid=True)
    assert report.ok, report.not_loaded
    assert len(logs) > 1 and queries
    assert logs == sorted(set(logs))  # a flush after each set
    assert all(written == len(logs) and log > logs[-1] for written, log in queries)
