"""Crash safety: a real `fairtracks-ld load` is SIGKILLed at every stage of a write (the stages
of faults.py, and mid Oxigraph bulk load); the store must open with exactly the view and catalog
it had before, the next write command must sweep the debris, and a re-run must take the fast
path. Also the writer lock, readers during a load, and a full disk."""

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
import requests
from conftest import BASE, copy_folder, write_json
from servers import free_port, serve
from test_ontology_store import TINY  # a root and its child

from fairtracks_ld import reasoning
from fairtracks_ld.faults import PAUSE_AT, PAUSE_FILE
from fairtracks_ld.generate import generate_documents
from fairtracks_ld.graph_removal import REMOVE_BATCH
from fairtracks_ld.mapping import annotations
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.recovery import bulk_files, orphan_graphs
from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore, current_view, records
from fairtracks_ld.store.reserve import (
    RESERVE_NAME,
    ensure,
    is_disk_full,
    release,
    reserve_path,
    reserve_size,
)
from fairtracks_ld.store.snapshots import current_snapshot
from fairtracks_ld.writer_lock import writer_lock

MASTER = str(example_documents()["master"])


def command(store: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
            *args]


def run(store: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command(store, *args), capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, **(env or {})))


def paused(store: Path, stage: str, *args: str) -> tuple[subprocess.Popen, Path]:
    """Start a CLI command that pauses at `stage`; returns once it is paused there."""
    marker = store.parent / f"paused-{stage}"
    marker.unlink(missing_ok=True)
    process = subprocess.Popen(command(store, *args), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, **{PAUSE_AT: stage, PAUSE_FILE: str(marker)}))
    deadline = time.time() + 300
    while not marker.exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise AssertionError(f"never reached {stage}: {process.communicate()[1]}")
        time.sleep(0.02)
    return process, marker


def kill(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGKILL)
    return process.communicate()[1]


def state(path: Path) -> dict[str, set[str]]:
    """The primary store's catalog quads, default-view triples and graph names."""
    store = TrackStore(path, base=BASE)
    found = {
        "catalog": {str(q) for q in store.graph_quads(store.catalog)},
        "view": {str(t) for t in store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")},
        "graphs": {g.value for g in store.ox.named_graphs()},
    }
    del store
    return found


def documents(tmp: Path, tracks: int, seed: int) -> str:
    document, = generate_documents(tracks=tracks, seed=seed, tracks_per_document=tracks)
    return str(write_json(tmp / f"gen-{tracks}-{seed}.json", document))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store holding the master example, published: the state every kill starts from."""
    folder = tmp_path_factory.mktemp("template")
    result = run(folder / "store", "load", MASTER)
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> str:
    return documents(tmp_path_factory.mktemp("docs"), 300, 11)


@pytest.fixture
def store(template, tmp_path) -> Path:
    """A private copy of the template store (store, snapshots, lock file)."""
    return copy_folder(template, tmp_path)


def assert_recovers(store: Path, before: dict[str, set[str]], source: str,
                    *load_args: str) -> None:
    """After a kill: the view is the pre-load one; a re-run sweeps and takes the fast path."""
    snapshot = current_snapshot(store)
    after = state(store)
    assert after["catalog"] == before["catalog"]
    assert after["view"] == before["view"]
    rerun = run(store, "load", *load_args, source, env={PAUSE_AT: "none"})
    assert rerun.returncode == 0, rerun.stderr
    assert "checkpoint staging" not in rerun.stderr  # the fast path, not the replace path
    assert current_snapshot(store) != snapshot
    assert not bulk_files(store)
    healthy = run(store, "doctor")
    assert healthy.returncode == 0, healthy.stdout
    loaded = TrackStore(store, base=BASE)
    assert not orphan_graphs(loaded)
    assert len(loaded.versions()) == 2
    del loaded


@pytest.mark.parametrize("stage", ["parse", "bulk-write", "validated", "merging", "ingested"])
@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "plain"])
def test_a_load_killed_at_any_stage_changes_nothing_and_is_swept(store, small, stage, bulk):
    before = state(store)
    options = ["--bulk"] if bulk else []
    process, _ = paused(store, stage, "load", *options, small)
    kill(process)
    debris = set(state(store)["graphs"]) - before["graphs"]
    if stage == "parse":
        assert not debris
    else:  # the version graph (and maybe its report) is there, uncatalogued
        assert any(g.endswith(tuple("0123456789abcdef")) for g in debris), debris
        doctor = run(store, "doctor")
        assert doctor.returncode == 1 and "debris of an interrupted write" in doctor.stdout
    assert_recovers(store, before, small, *options)


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "plain"])
def test_a_load_killed_after_writing_its_records_leaves_them_unnamed_and_swept(store, small,
                                                                               bulk):
    """Killed once the version's records are in place, before the catalog update names them:
    no reader trusts them (the catalog names none), doctor counts them as debris, and the next
    writer removes them; its own load writes records of its own."""
    before = state(store)
    opened = TrackStore(store, base=BASE)
    kept = set(records.names(opened).values())
    del opened
    options = ["--bulk"] if bulk else []
    process, _ = paused(store, "recorded", "load", *options, small)
    kill(process)
    opened = TrackStore(store, base=BASE)
    left = records.unnamed(opened)
    assert len(left) == 1 and all(p.suffixes[-2:] == [".nt", ".zst"] for p in left), left
    assert set(records.names(opened).values()) == kept
    del opened
    doctor = run(store, "doctor")
    assert doctor.returncode == 1 and "1 unnamed record file(s)" in doctor.stdout, doctor.stdout
    assert_recovers(store, before, small, *options)
    opened = TrackStore(store, base=BASE)
    assert not records.unnamed(opened)
    assert not any(p.exists() for p in left)
    assert len(records.names(opened)) == 2  # both versions' graphs
    del opened


def test_a_load_killed_mid_bulk_load_leaves_bulk_files_that_are_swept(store, tmp_path):
    """A real kill while Oxigraph writes its bulk-*.sst files (polled for, no checkpoint)."""
    big = documents(tmp_path, 2000, 12)
    before = state(store)
    process = subprocess.Popen(command(store, "load", "--bulk", big),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not bulk_files(store):
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = bulk_files(store)
    assert left and all(p.name.startswith("bulk-") for p in left)
    after = state(store)
    assert after["catalog"] == before["catalog"] and after["view"] == before["view"]
    swept = run(store, "load", "--bulk", big, env={PAUSE_AT: "none"})
    assert "swept the debris of an interrupted write" in swept.stderr
    assert swept.returncode == 0, swept.stderr
    assert "checkpoint staging" not in swept.stderr
    assert not bulk_files(store)


def sources_merge(path: Path) -> set[str]:
    """Every triple of the view's sources, as the catalog names them now."""
    store = TrackStore(path, base=BASE)
    merged = {str(q.triple) for graph in current_view.sources(store)
              for q in store.graph_quads(graph)}
    del store
    return merged


def named(triples: set[str]) -> set[str]:
    """Those without a blank node (a CONSTRUCT answer names its blank nodes afresh)."""
    return {t for t in triples if "_:" not in t}


def graph_triples(path: Path, graph: str) -> set[str]:
    store = TrackStore(path, base=BASE)
    found = {str(q.triple) for q in store.graph_quads(graph)}
    del store
    return found


def lasting(catalog: set[str]) -> set[str]:
    """A catalog's quads less what any rewrite renews: record names, load and closure stamps."""
    return {q for q in catalog if f"<{records.RECORD}>" not in q and "generatedAtTime" not in q}


@pytest.fixture(scope="module")
def reloadable(template, tmp_path_factory) -> tuple[Path, str]:
    """The master example and 1,400 tracks of a 1,500-track document loaded; returns the
    folder and the same version with tracks 100-1,499 instead (a corrected document that kept
    its doc_version): its reload removes some triples and adds others."""
    folder = tmp_path_factory.mktemp("reloadable")
    copy_folder(template, folder)
    document = json.loads(Path(documents(folder, 1500, 13)).read_text(encoding="utf-8"))
    tracks = document["tracks"]
    document["tracks"] = tracks[:1400]
    assert run(folder / "store", "load", str(write_json(folder / "first.json", document))
               ).returncode == 0
    document["tracks"] = tracks[100:]
    return folder, str(write_json(folder / "corrected.json", document))


@pytest.fixture(scope="module")
def reloaded(reloadable, tmp_path_factory) -> tuple[dict[str, set[str]], list[str]]:
    """The reloadable store after an uninterrupted reload, and the checkpoints it passed."""
    store = copy_folder(reloadable[0], tmp_path_factory.mktemp("reloaded"))
    done = run(store, "load", reloadable[1], env={PAUSE_AT: "none"})
    assert done.returncode == 0, done.stderr
    return state(store), [line.split()[1] for line in done.stderr.splitlines()
                          if line.startswith("checkpoint ")]


@pytest.mark.parametrize("stage", ["ingested", "view-pending", "swap-removing", "swap-adding",
                                   "swap-switched", "swap-unstaging"])
def test_a_reload_killed_at_any_stage_is_the_old_or_the_new_version(
        reloadable, reloaded, tmp_path, stage):
    """A reload of a loaded version is staged, noted in its catalog update and swapped in
    (graph and report; store/swap.py): killed before the update, the next writer
    leaves exactly the old version; after it, exactly the new one; readers keep the snapshot
    from before meanwhile."""
    folder, corrected = reloadable
    store = copy_folder(folder, tmp_path)
    before = state(store)
    after, passed = reloaded
    assert stage in passed, passed
    snapshot = current_snapshot(store)
    process, _ = paused(store, stage, "load", corrected)
    assert "checkpoint staging" in kill(process)  # the replace path
    assert current_snapshot(store) == snapshot
    doctor = run(store, "doctor")  # after the update: the version's swaps not all finished
    assert doctor.returncode == 1
    noted = "unfinished graph replacement" in doctor.stdout
    assert noted == (stage != "ingested"), doctor.stdout
    swept = run(store, "reason")  # any write command sweeps
    assert "swept the debris" in swept.stderr, swept.stderr
    now = state(store)
    merged = sources_merge(store)
    assert named(now["view"]) == named(merged) and len(now["view"]) == len(merged)
    expected = before if stage == "ingested" else after
    assert now["graphs"] == expected["graphs"]  # no staging graph left
    assert lasting(now["catalog"]) == lasting(expected["catalog"])
    assert named(now["view"]) == named(expected["view"])
    assert run(store, "doctor").returncode == 0


def test_a_withdrawal_killed_before_its_view_change_is_settled_is_finished_by_the_next_writer(
        store, template, small, tmp_path):
    """A withdrawal notes its view change in its catalog update and settles it in bounded
    steps after (one update deleting a big version's view triples held them all in memory):
    killed in between, the next writer settles it, to exactly the view of an uninterrupted
    withdrawal."""
    (tmp_path / "reference").mkdir()
    reference = copy_folder(template, tmp_path / "reference")
    for target in (store, reference):
        assert run(target, "load", small).returncode == 0
    withdrawal = ("withdraw", "gen-11-0", "--reason", "a test", "--by", "tests")
    assert run(reference, *withdrawal).returncode == 0
    process, _ = paused(store, "view-pending", *withdrawal)
    kill(process)
    doctor = run(store, "doctor")
    assert doctor.returncode == 1 and "unsettled view change" in doctor.stdout, doctor.stdout
    swept = run(store, "reason")  # any write command sweeps
    assert "swept the debris" in swept.stderr, swept.stderr
    assert run(reference, "reason").returncode == 0
    settled, expected = state(store), state(reference)
    assert settled["graphs"] == expected["graphs"]
    assert named(settled["view"]) == named(expected["view"])
    assert len(settled["view"]) == len(expected["view"])
    stamp = "invalidatedAtTime"
    assert ({q for q in lasting(settled["catalog"]) if stamp not in q}
            == {q for q in lasting(expected["catalog"]) if stamp not in q})


def test_a_kill_while_publishing_leaves_the_old_snapshot_current(store, small):
    snapshot = current_snapshot(store)
    process, _ = paused(store, "publish", "load", small)
    kill(process)
    assert current_snapshot(store) == snapshot  # readers still see the pre-load view
    doctor = run(store, "doctor")
    assert doctor.returncode == 1
    assert "unfinished snapshot" in doctor.stdout and "older than the store" in doctor.stdout
    repaired = run(store, "doctor", "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert current_snapshot(store) != snapshot
    assert len([p for p in store.with_name("store.snapshots").iterdir()
                if p.name.isdigit()]) == 2


# ---- the writer lock and readers during a load ------------------------------------------------


def test_a_second_writer_is_told_who_holds_the_lock(store, small):
    with writer_lock(store, command="fairtracks-ld load big.json"):
        result = run(store, "load", small)
        started = time.time()
        waited = run(store, "--wait", "1", "load", small)
        assert time.time() - started >= 1
    assert result.returncode == 1 and waited.returncode == 1
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert f"is being written by process {os.getpid()}" in message
    assert "`fairtracks-ld load big.json`" in message and "--wait SECONDS" in message
    assert "waited 1 s" in waited.stderr


def test_a_waiting_writer_runs_once_the_lock_is_free(store, small):
    process, marker = paused(store, "ingested", "load", MASTER)
    waiting = subprocess.Popen(command(store, "--wait", "120", "load", small),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert waiting.poll() is None  # still waiting
    marker.unlink()
    assert process.wait(timeout=120) == 0
    assert waiting.wait(timeout=300) == 0, waiting.stderr.read()


def test_readers_work_during_a_load_and_see_the_last_snapshot(store, small):
    before = run(store, "stats")
    assert before.returncode == 0, before.stderr
    process, marker = paused(store, "ingested", "load", small)
    try:
        stats = run(store, "stats")
        assert stats.returncode == 0, stats.stderr
        during = json.loads(stats.stdout)
        assert during.pop("disk_bytes")["store"] > 0  # the primary store grows meanwhile …
        assert during == {k: v for k, v in json.loads(before.stdout).items()
                          if k != "disk_bytes"}  # … but readers see the last snapshot
        count = run(store, "query", "SELECT (COUNT(*) AS ?n) WHERE { ?t a ft:Track }",
                    "--format", "csv")
        assert count.returncode == 0, count.stderr
        dump = run(store, "dump", "--format", "nq")
        assert dump.returncode == 0 and "gen-300" not in dump.stdout
        export = run(store, "export", "encode_example")
        assert export.returncode in (0, 1) and "Traceback" not in export.stderr
    finally:
        marker.unlink()
    assert process.wait(timeout=300) == 0
    after = json.loads(run(store, "stats").stdout)
    assert after["document_versions"] == json.loads(before.stdout)["document_versions"] + 1


def test_a_server_starts_during_a_load_on_the_last_snapshot(store, small):
    process, marker = paused(store, "ingested", "load", small)
    try:
        with serve(store, free_port(), workers=1) as base:
            found = requests.get(base + "sparql", timeout=60, params={
                "query": "SELECT (COUNT(*) AS ?n) WHERE { ?t a ft:Track }"},
                headers={"Accept": "application/sparql-results+json"})
            assert found.status_code == 200
            assert found.json()["results"]["bindings"][0]["n"]["value"] != "300"
    finally:
        marker.unlink()
    assert process.wait(timeout=300) == 0


def test_a_process_holding_the_store_without_the_lock_is_named_in_one_line(store, small):
    opened = TrackStore(store, base=BASE)  # a Python program that skips the writer lock
    try:
        result = run(store, "load", small)
        reader = run(store, "stats")
    finally:
        del opened
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "does not take the writer lock" in result.stderr
    assert reader.returncode == 0, reader.stderr  # readers read the snapshot


def test_a_refused_load_publishes_no_snapshot(store, tmp_path, examples):
    snapshot = current_snapshot(store)
    bad = write_json(tmp_path / "bad.json", examples["v1-current"])  # its CURIE slip
    result = run(store, "load", str(bad))
    assert result.returncode == 1
    assert current_snapshot(store) == snapshot


def everything(path: Path) -> set[str]:
    """Every quad of the primary store."""
    store = TrackStore(path, base=BASE)
    quads = {str(q) for q in store.ox.quads_for_pattern(None, None, None, None)}
    del store
    return quads


def test_a_refused_document_is_removed_in_bounded_transactions_leaving_the_store_as_it_was(
        store, tmp_path, examples):
    before = everything(store)
    bad = write_json(tmp_path / "bad.json", examples["v1-current"])  # its CURIE slip
    result = run(store, "load", "--bulk", str(bad), env={REMOVE_BATCH: "40", PAUSE_AT: "none"})
    assert result.returncode == 1 and "breaks the standard" in result.stdout + result.stderr
    assert result.stderr.count("checkpoint removing") > 3  # several transactions of 40 quads
    assert everything(store) == before


def test_a_removal_killed_halfway_is_swept_by_the_next_write(store, tmp_path, examples,
                                                               monkeypatch):
    before, seen = everything(store), state(store)
    bad = write_json(tmp_path / "bad.json", examples["v1-current"])
    monkeypatch.setenv(REMOVE_BATCH, "40")
    process, _ = paused(store, "removing", "load", str(bad))
    kill(process)  # after the first 40 quads of the refused version graph went
    left = state(store)
    assert left["catalog"] == seen["catalog"] and left["view"] == seen["view"]
    debris = left["graphs"] - seen["graphs"]
    assert debris and all(g.startswith(BASE + "collection/") for g in debris), debris
    assert not everything(store) <= before  # part of the refused graph is still there
    doctor = run(store, "doctor")
    assert doctor.returncode == 1 and "debris of an interrupted write" in doctor.stdout
    again = run(store, "load", str(bad), env={PAUSE_AT: "none"})  # sweeps first, then refuses
    assert again.returncode == 1
    assert "swept the debris of an interrupted write" in again.stderr
    assert everything(store) == before


# ---- a full disk ------------------------------------------------------------------------------


@pytest.fixture(params=["12m", "13m"])
def tiny_disk(request, tmp_path) -> Path:
    """A tmpfs of a few MB. Two sizes, as the failed load fills each at a different point (at
    13 MB the disk used to be left with no byte for RocksDB to reopen the store)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={request.param}", "tmpfs",
                           str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs here ({done.stderr.strip()})")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_one_sentence_and_changes_nothing(tiny_disk, tmp_path):
    store = tiny_disk / "store"
    assert run(store, "load", MASTER).returncode == 0
    assert reserve_path(store).is_file()  # the writer keeps its reserve
    before = state(store)
    snapshot = current_snapshot(store)
    big, after_it = documents(tmp_path, 3000, 14), documents(tmp_path, 20, 15)
    result = run(store, "load", "--bulk", big, after_it)  # the batch stops at the full disk
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "is full (No space left on device)" in result.stderr, result.stderr
    assert "free some space" in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert all("is full" in line for line in errors), result.stderr
    assert sum("No space left on device" in line for line in errors) == 1, result.stderr
    assert not any(RESERVE_NAME in p.name for p in store.with_name("store.snapshots").rglob("*"))
    assert not reserve_path(store).exists()  # given up, so the store opens again
    assert current_snapshot(store) == snapshot
    after = state(store)
    assert after["catalog"] == before["catalog"] and after["view"] == before["view"]
    # space returns: the next write sweeps what the failed load left and keeps a reserve again
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    again = run(store, "doctor", "--repair")
    assert again.returncode == 0, again.stdout + again.stderr
    assert reserve_path(store).is_file()
    assert not bulk_files(store)
    assert state(store) == before  # the debris graphs are gone too


def test_the_reserve_waits_for_space_and_is_not_counted_as_debris(tmp_path):
    """ensure() keeps twice the reserve free for the write at hand; release() gives it up."""
    folder = tmp_path / "disk"
    folder.mkdir()
    size = reserve_size(folder)
    assert 0 < size <= 64 * 1024 * 1024
    assert ensure(folder) and reserve_path(folder).stat().st_size == size
    assert ensure(folder)  # already there
    assert release(folder) and not release(folder)
    assert is_disk_full(OSError("IO error: No space left on device: While appending to file"))
    assert not is_disk_full(OSError("IO error: lock hold by current process"))


@pytest.mark.parametrize("stage", ["view-pending", "view-adding"])
def test_a_load_killed_before_its_view_change_is_settled_is_finished_by_the_next_writer(
        store, template, tmp_path, stage):
    """Killed after the catalog update made a new version current, before the view was
    brought up to date (or midway through its copy into the view): doctor names the unsettled
    change and the next write settles it, to exactly the view an uninterrupted load gives."""
    first = documents(tmp_path, 300, 21)
    newer = json.loads(Path(first).read_text(encoding="utf-8"))
    newer["doc_info"]["doc_version"] += "-2"
    del newer["tracks"][:100]  # triples only the first version holds leave the view
    second = str(write_json(tmp_path / "second.json", newer))
    (tmp_path / "reference").mkdir()
    reference = copy_folder(template, tmp_path / "reference")
    for target in (store, reference):
        assert run(target, "load", first).returncode == 0
    assert run(reference, "load", second).returncode == 0
    process, _ = paused(store, stage, "load", second)
    kill(process)
    doctor = run(store, "doctor")
    assert doctor.returncode == 1 and "unsettled view change" in doctor.stdout, doctor.stdout
    swept = run(store, "reason")  # any write command sweeps
    assert "swept the debris" in swept.stderr, swept.stderr
    assert run(store, "doctor").returncode == 0
    assert run(reference, "reason").returncode == 0  # the same last command on both
    settled, expected = state(store), state(reference)
    assert settled["graphs"] == expected["graphs"]
    assert len(settled["view"]) == len(expected["view"])  # blank nodes differ between stores
    named = {t for t in expected["view"] if "_:" not in t}
    assert {t for t in settled["view"] if "_:" not in t} == named


# ---- the closure rewritten (store/swap.py) ----------------------------------------------------

BOGUS = "urn:fairtracks-ld:test:bogus-ancestor"
OBO = "http://purl.obolibrary.org/obo/"


@pytest.fixture(scope="module")
def edited(template, tmp_path_factory) -> tuple[Path, str]:
    """The master example and a tiny ontology, whose closure graph (and the view) lost one
    ft:descends_from link and gained a bogus one, as a hand edit would leave them: a full
    `reason` rewrites the closure from scratch (the one graph it rewrites), so its swap has
    triples to remove and to add. Returns the folder and the lost link."""
    folder = tmp_path_factory.mktemp("edited")
    copy_folder(template, folder)
    (folder / "tiny.obo").write_text(TINY.format(version="2020-01-01", label="child thing"),
                                     encoding="utf-8")
    added = run(folder / "store", "ontologies", "add", str(folder / "tiny.obo"))
    assert added.returncode == 0, added.stderr
    store = TrackStore(folder / "store", base=BASE)
    closure = reasoning.closure_graph(store)
    link = ox.Triple(ox.NamedNode(OBO + "TINY_0000002"), ox.NamedNode(reasoning.DESCENDS_FROM),
                     ox.NamedNode(OBO + "TINY_0000001"))
    assert link in {q.triple for q in store.graph_quads(closure)}
    bogus = ox.Triple(link.subject, link.predicate, ox.NamedNode(BOGUS))
    store.ox.update(f"DELETE DATA {{ GRAPH <{closure}> {{ {link} }} {link} }} ; "
                    f"INSERT DATA {{ GRAPH <{closure}> {{ {bogus} }} {bogus} }}")
    store.ox.flush()
    del store
    return folder, str(link)


@pytest.fixture(scope="module")
def rewritten(edited, tmp_path_factory) -> tuple[dict[str, set[str]], list[str]]:
    """The edited store after an uninterrupted `reason --full`, and the checkpoints it passed."""
    folder = copy_folder(edited[0], tmp_path_factory.mktemp("rewritten"))
    done = run(folder, "reason", "--full", env={PAUSE_AT: "none"})
    assert done.returncode == 0, done.stderr
    return state(folder), [line.split()[1] for line in done.stderr.splitlines()
                           if line.startswith("checkpoint ")]


@pytest.mark.parametrize("stage", ["swap-staged", "swap-noted", "swap-removing", "swap-adding",
                                   "swap-switched", "swap-unstaging"])
def test_a_closure_rewrite_killed_at_any_stage_is_the_old_or_the_new_one(
        edited, rewritten, tmp_path, stage):
    """`reason --full` killed while it swaps in the closure computed afresh: the published
    snapshot is untouched; the next writer's sweep leaves exactly the old closure (killed
    before the catalog noted the swap) or the new one (after), with the view exactly the
    merge of its sources either way."""
    folder, link = edited
    store = copy_folder(folder, tmp_path)
    closure = BASE + current_view.CLOSURE_PATH
    old = graph_triples(store, closure)
    after, passed = rewritten
    assert passed.count(stage) == 1, passed  # the closure's swap is the run's only one
    snapshot = current_snapshot(store)
    process, _ = paused(store, stage, "reason", "--full")
    kill(process)
    assert current_snapshot(store) == snapshot  # readers see the view from before
    doctor = run(store, "doctor")
    assert doctor.returncode == 1, doctor.stdout
    noted = stage in ("swap-noted", "swap-removing", "swap-adding")
    assert ("unfinished graph replacement" in doctor.stdout) == noted, doctor.stdout
    assert ("uncatalogued graph" in doctor.stdout) == (not noted), doctor.stdout
    swept = run(store, "reason")  # any write command sweeps (this one rewrites nothing)
    assert "swept the debris" in swept.stderr, swept.stderr
    now = state(store)
    merged = sources_merge(store)
    assert named(now["view"]) == named(merged) and len(now["view"]) == len(merged)
    assert now["graphs"] == after["graphs"]  # no staging graph left
    assert lasting(now["catalog"]) == lasting(after["catalog"])  # no note left
    if stage == "swap-staged":  # before the note: the old closure
        assert graph_triples(store, closure) == old
        assert f"<{BOGUS}>" in str(now["view"]) and link not in now["view"]
    else:  # the new one
        assert graph_triples(store, closure) == {t for t in old if BOGUS not in t} | {link}
        assert named(now["view"]) == named(after["view"])
        assert f"<{BOGUS}>" not in str(now["view"]) and link in now["view"]
    assert run(store, "doctor").returncode == 0


# ---- companions of stored links dropped by the migration (store/swap.py) ----------------------


@pytest.fixture(scope="module")
def linked(template, tmp_path_factory) -> Path:
    """A store as the layout with links on their carriers left it: the master example, a
    superseded 300-track version and its successor, each with a recorded companion graph linking
    every annotated entity to its terms (no ontology: a term is its own only ancestor), the
    current versions' links in the view too, and the closure's ft:link_layout "carrier"."""
    folder = tmp_path_factory.mktemp("linked")
    copy_folder(template, folder)
    first = documents(folder, 300, 31)
    newer = json.loads(Path(first).read_text(encoding="utf-8"))
    newer["doc_info"]["doc_version"] += "-2"
    second = str(write_json(folder / "second.json", newer))
    for source in (first, second):
        assert run(folder / "store", "load", source).returncode == 0
    store = TrackStore(folder / "store", base=BASE)
    for version in store.versions():
        companion = reasoning.inferred_graph(version.graph)
        for kind, (_, path) in annotations.ANNOTATIONS.items():
            link = f"?c <{FT}own_{kind}_ancestor> ?a"
            in_view = link if version.current else ""
            store.ox.update(f"""INSERT {{ GRAPH <{companion}> {{ {link} }} {in_view} }}
                WHERE {{ GRAPH <{version.graph}> {{ ?c {path}/ft:term_id ?a }} }}""",
                            prefixes={"ft": FT})
        records.write_from_store(store, companion)
    store.ox.update(f"""DELETE WHERE {{ GRAPH <{store.catalog}> {{
            <{reasoning.closure_graph(store)}> ft:link_layout ?layout }} }} ;
        INSERT DATA {{ GRAPH <{store.catalog}> {{
            <{reasoning.closure_graph(store)}> ft:link_layout "carrier" }} }}""",
                    prefixes={"ft": FT})
    assert current_view.links_outdated(store)
    store.ox.flush()
    del store
    return folder


@pytest.fixture(scope="module")
def migrated(linked, tmp_path_factory) -> dict[str, set[str]]:
    """The linked store after an uninterrupted `migrate`."""
    folder = copy_folder(linked, tmp_path_factory.mktemp("migrated"))
    done = run(folder, "migrate")
    assert done.returncode == 0, done.stderr
    return state(folder)


def companions(path: Path) -> dict[str, int]:
    """The companion graphs the store holds, with their sizes."""
    store = TrackStore(path, base=BASE)
    found = {g.value: len(list(store.graph_quads(g.value))) for g in store.ox.named_graphs()
             if g.value.endswith(reasoning.INFERRED_SUFFIX)}
    del store
    return found


def own_links(path: Path) -> set[str]:
    """The view's stored ancestor links (an earlier layout's)."""
    return {t for t in state(path)["view"] if f"<{FT}own_" in t}


@pytest.mark.parametrize("stage", ["swap-noted", "swap-removing", "swap-switched"])
def test_a_migration_killed_while_it_drops_a_companion_is_finished_by_the_next_writer(
        linked, migrated, tmp_path, monkeypatch, stage):
    """`migrate` drops each version's companion of stored links in the bounded steps of a swap
    (the master example's first, whose links leave the view) and records the layout last:
    killed once the first drop is noted, after its first 10 quads went, or just after it, the
    store still has the earlier layout, so the next writer (here a `reason`) drops what is
    left: no companion, none of their links in the view or the records, exactly the store an
    uninterrupted migration gives."""
    store = copy_folder(linked, tmp_path)
    held, links = companions(store), own_links(store)
    assert len(held) == 3 and all(held.values()) and links
    snapshot = current_snapshot(store)
    monkeypatch.setenv(REMOVE_BATCH, "10")
    process, _ = paused(store, stage, "migrate")
    kill(process)
    monkeypatch.delenv(REMOVE_BATCH)
    assert current_snapshot(store) == snapshot
    left = companions(store)
    if stage == "swap-switched":  # the first companion is gone, the others whole
        assert len(left) == 2 and all(held[g] == n for g, n in left.items())
    elif stage == "swap-removing":  # the first companion lost 10 quads, the view them too
        assert sorted(held[g] - n for g, n in left.items()) == [0, 0, 10]
        assert len(links) - len(own_links(store)) == 10
    else:  # noted, nothing removed yet
        assert left == held
    swept = run(store, "reason")
    assert swept.returncode == 0, swept.stderr
    now = state(store)
    merged = sources_merge(store)
    assert named(now["view"]) == named(merged) and len(now["view"]) == len(merged)
    assert not any(g.endswith(reasoning.INFERRED_SUFFIX) for g in now["graphs"])
    assert not own_links(store)
    assert now["graphs"] == migrated["graphs"]
    assert lasting(now["catalog"]) == lasting(migrated["catalog"])
    assert named(now["view"]) == named(migrated["view"])
    opened = TrackStore(store, base=BASE)
    assert not current_view.links_outdated(opened)
    assert set(records.names(opened)) == {v.graph for v in opened.versions()}
    assert not records.unnamed(opened)
    del opened
    assert run(store, "doctor").returncode == 0
