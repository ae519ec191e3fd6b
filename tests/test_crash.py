"""Crash safety: a real `fairtracks-ld load` is SIGKILLed at every stage of a write (the stages
of faults.py, and mid Oxigraph bulk load); the store must open with exactly the catalog it had
before and, once the next write command swept the debris, exactly the view, and a re-run must
take the fast path. Both layouts of a new version are killed: stored once (a new collection:
written straight into the view, noted in the catalog, store/members.py), where the view holds
part of it until the sweep takes it back, and in a named graph (a version of a collection with a
current version), where the view is unchanged right after the kill. Also the writer lock, readers
during a load, and a full disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from conftest import BASE, copy_folder, write_json
from servers import free_port, serve
from test_ontology_store import TINY  # a root and its child

from fairtracks_ld import reasoning, recovery
from fairtracks_ld.faults import PAUSE_AT, PAUSE_FILE
from fairtracks_ld.generate import generate_documents
from fairtracks_ld.graph_removal import REMOVE_BATCH
from fairtracks_ld.mapping import annotations
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.recovery import bulk_files, orphan_graphs
from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore, current_view, members, records
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
from fairtracks_ld.writing import open_store

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
    """The primary store's catalog quads, default-view triples, graph names and member quads
    (store/members.py: the versions stored once)."""
    store = TrackStore(path, base=BASE)
    found = {
        "catalog": {str(q) for q in store.graph_quads(store.catalog)},
        "view": {str(t) for t in store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")},
        "graphs": {g.value for g in store.ox.named_graphs()},
        "members": {str(q) for q in store.ox.quads_for_pattern(
            None, None, None, ox.NamedNode(members.graph(store)))},
    }
    del store
    return found


def unfinished(path: Path) -> list[str]:
    """The versions a killed write left noted as written stored once (or being restored)."""
    store = TrackStore(path, base=BASE)
    found = members.unfinished(store)
    del store
    return found


def sweep(path: Path) -> None:
    """What the next writer does first: sweep the debris, under the writer lock."""
    store = open_store(path, base=BASE)
    with writer_lock(path):
        recovery.sweep(store)
    store.flush()
    del store


def restore_all(path: Path) -> None:
    """Give every version stored once its named graph back (members.restore, as a supersede
    does first), and publish: every version in a named graph, as in the earlier layout."""
    store = open_store(path, base=BASE)
    with writer_lock(path):
        for version in members.stored_once(store):
            members.restore(store, version)
        assert not members.stored_once(store)
    store.flush()
    del store
    assert run(path, "doctor", "--repair").returncode == 0


def pending_note(path: Path, version: str, note: str = members.PENDING) -> str:
    """The catalog note of a version being written stored once (or, `members.RESTORING`,
    getting its named graph back), as `state` shows it."""
    store = TrackStore(path, base=BASE)
    note = str(ox.Quad(ox.NamedNode(store.catalog), ox.NamedNode(note),
                       ox.NamedNode(version), ox.NamedNode(store.catalog)))
    del store
    return note


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


@pytest.fixture(scope="module")
def next_versions(small, tmp_path_factory) -> list[str]:
    """The next two versions of `small`'s document (each of a later date)."""
    folder = tmp_path_factory.mktemp("next")
    document = json.loads(Path(small).read_text(encoding="utf-8"))
    found = []
    for number, date in ((2, "2030-01-01T00:00:00Z"), (3, "2030-06-01T00:00:00Z")):
        document["doc_info"]["doc_version"] = f"next-{number}"
        document["doc_info"]["doc_date"] = date
        found.append(str(write_json(folder / f"next-{number}.json", document)))
    return found


@pytest.fixture(scope="module")
def superseded(template, small, next_versions, tmp_path_factory) -> Path:
    """The template and two versions of `small`'s document: the first written stored once, its
    named graph restored when the second superseded it; the second written in a named graph
    (its collection had a current version), as every version was in the earlier layout."""
    folder = tmp_path_factory.mktemp("superseded")
    copy_folder(template, folder)
    for source in (small, next_versions[0]):
        done = run(folder / "store", "load", source)
        assert done.returncode == 0, done.stderr
    store = TrackStore(folder / "store", base=BASE)
    versions = store.versions()
    assert len(versions) == 3 and len(members.stored_once(store)) == 1  # the master example's
    assert all(store.has_graph(v.graph) for v in versions
               if v.graph not in members.stored_once(store))
    del store
    return folder


@dataclass
class Killed:
    """A private store and the document a test kills the load of."""

    store: Path
    source: str
    once: bool  # whether the load writes it stored once (store/members.py)
    versions: int  # the versions the store holds once it is loaded


@pytest.fixture(params=["once", "named"])
def killed(request, template, superseded, small, next_versions, tmp_path) -> Killed:
    """Both layouts of a load: `once`, a new collection (`small` on the template), written
    stored once, straight into the view, noted in the catalog first; `named`, a third version
    of a document whose current version keeps a named graph, written into a named graph that
    nothing sees before the catalog update."""
    if request.param == "once":
        return Killed(copy_folder(template, tmp_path), small, True, 2)
    return Killed(copy_folder(superseded, tmp_path), next_versions[1], False, 4)


def assert_recovers(store: Path, before: dict[str, set[str]], source: str,
                    *load_args: str, versions: int = 2) -> None:
    """After a kill: the catalog is the pre-load one, and so is the view; a load written
    stored once has also its note in the catalog and part of it in the view, which the next
    writer's sweep takes back, to exactly the pre-load store. A re-run sweeps what is left and
    takes the fast path."""
    snapshot = current_snapshot(store)
    after = state(store)
    noted = unfinished(store)
    if noted:  # written stored once: the sweep takes it back
        version, = noted
        assert after["catalog"] == before["catalog"] | {pending_note(store, version)}
        sweep(store)
        after = state(store)
        assert after == before  # no graph, member quad, note or view triple of it left
        assert not unfinished(store)
        opened = TrackStore(store, base=BASE)
        assert not recovery.find(opened)
        del opened
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
    assert not orphan_graphs(loaded) and not members.unfinished(loaded)
    assert len(loaded.versions()) == versions
    del loaded


def assert_debris(store: Path, before: dict[str, set[str]], once: bool) -> None:
    """Right after a kill past `parse`: a load written stored once left its note, part of its
    triples in the view and member quads (no graph); one written in a named graph left that
    graph, uncatalogued, and the view as it was. Doctor names it either way."""
    now = state(store)
    debris = now["graphs"] - before["graphs"]
    if once:  # no version graph; its report, if the kill came after it was written
        assert all(g.endswith("/validation-report") for g in debris), debris
        assert len(unfinished(store)) == 1
        assert named(before["view"]) < named(now["view"])  # no reader sees it: snapshots
        assert before["members"] < now["members"]
    else:  # the version graph (and maybe its report) is there, uncatalogued
        assert not unfinished(store)
        assert any(g.endswith(tuple("0123456789abcdef")) for g in debris), debris
        assert now["view"] == before["view"] and now["members"] == before["members"]
    doctor = run(store, "doctor")
    assert doctor.returncode == 1 and "debris of an interrupted write" in doctor.stdout
    assert ("1 unfinished version(s) stored once" in doctor.stdout) == once, doctor.stdout


@pytest.mark.parametrize("stage", ["parse", "bulk-write", "validated", "merging", "ingested"])
@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "plain"])
def test_a_load_killed_at_any_stage_changes_nothing_and_is_swept(killed, stage, bulk):
    store = killed.store
    before = state(store)
    snapshot = current_snapshot(store)
    options = ["--bulk"] if bulk else []
    process, _ = paused(store, stage, "load", *options, killed.source)
    kill(process)
    assert current_snapshot(store) == snapshot  # readers see the pre-load view meanwhile
    if stage == "parse":
        assert state(store) == before and not unfinished(store)
    else:
        assert_debris(store, before, killed.once)
    assert_recovers(store, before, killed.source, *options, versions=killed.versions)


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "plain"])
def test_a_load_killed_after_writing_its_records_leaves_them_unnamed_and_swept(killed, bulk):
    """Killed once the version's records are in place, before the catalog update names them:
    no reader trusts them (the catalog names none), doctor counts them as debris, and the next
    writer removes them (written stored once: after taking the version back from the view);
    its own load writes records of its own."""
    store = killed.store
    before = state(store)
    opened = TrackStore(store, base=BASE)
    kept = set(records.names(opened).values())
    del opened
    options = ["--bulk"] if bulk else []
    process, _ = paused(store, "recorded", "load", *options, killed.source)
    kill(process)
    opened = TrackStore(store, base=BASE)
    left = records.unnamed(opened)
    assert len(left) == 1 and all(p.suffixes[-2:] == [".nt", ".zst"] for p in left), left
    assert set(records.names(opened).values()) == kept
    del opened
    assert_debris(store, before, killed.once)
    doctor = run(store, "doctor")
    assert doctor.returncode == 1 and "1 unnamed record file(s)" in doctor.stdout, doctor.stdout
    assert_recovers(store, before, killed.source, *options, versions=killed.versions)
    opened = TrackStore(store, base=BASE)
    assert not records.unnamed(opened)
    assert not any(p.exists() for p in left)
    assert len(records.names(opened)) == killed.versions  # every version's record
    del opened


@pytest.fixture(scope="module")
def big_next(next_versions, tmp_path_factory) -> str:
    """A 2,000-track next version of `small`'s document (a later date than `next_versions`)."""
    document, = generate_documents(tracks=2000, seed=11, tracks_per_document=2000)
    document["doc_info"]["doc_version"] = "next-big"
    document["doc_info"]["doc_date"] = "2031-01-01T00:00:00Z"
    return str(write_json(tmp_path_factory.mktemp("big") / "big.json", document))


@pytest.mark.parametrize("once", [True, False], ids=["once", "named"])
def test_a_load_killed_mid_bulk_load_leaves_bulk_files_that_are_swept(
        template, superseded, big_next, tmp_path, once):
    """A real kill while Oxigraph writes its bulk-*.sst files (polled for, no checkpoint): of a
    new collection (written stored once) or of a next version (in a named graph)."""
    if once:
        store, big = copy_folder(template, tmp_path), documents(tmp_path, 2000, 12)
    else:
        store, big = copy_folder(superseded, tmp_path), big_next
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
    noted = unfinished(store)
    assert bool(noted) == once
    if once:  # its note is the catalog's one change; the sweep takes back what is in the view
        assert after["catalog"] == before["catalog"] | {pending_note(store, noted[0])}
        sweep(store)
        after = state(store)
        assert after == before and not bulk_files(store)
    assert after["catalog"] == before["catalog"] and after["view"] == before["view"]
    swept = run(store, "load", "--bulk", big, env={PAUSE_AT: "none"})
    if not once:  # (once: swept above)
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
    its doc_version): its reload removes some triples and adds others. Every version keeps a
    named graph (restored: the 1,400-track one was written stored once), so the reload is
    staged and swapped in as in the earlier layout."""
    folder = tmp_path_factory.mktemp("reloadable")
    copy_folder(template, folder)
    document = json.loads(Path(documents(folder, 1500, 13)).read_text(encoding="utf-8"))
    tracks = document["tracks"]
    document["tracks"] = tracks[:1400]
    assert run(folder / "store", "load", str(write_json(folder / "first.json", document))
               ).returncode == 0
    restore_all(folder / "store")  # a reload of a version stored once: test_a_reload_killed_…
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


@pytest.mark.parametrize("kind", ["supersede", "reload"])
def test_a_write_killed_while_it_restores_a_version_stored_once_is_finished_by_the_next_writer(
        template, small, next_versions, tmp_path, kind):
    """A supersede (the document's next version) or a reload (the same version, corrected) of
    a version stored once first gives it its named graph back from its record (members.restore,
    noted `ft:restoring`). Killed there, readers keep their snapshot and the catalog and the
    view are the old version's; the next writer's sweep finishes the restore: the old version,
    in its named graph (its record's triples), no member quad, mark or note of it left. A
    re-run then makes it the new version, exactly as an uninterrupted write does."""
    if kind == "supersede":
        source = next_versions[0]
    else:
        document = json.loads(Path(small).read_text(encoding="utf-8"))
        del document["tracks"][:50]
        source = str(write_json(tmp_path / "corrected.json", document))
    (tmp_path / "store-folder").mkdir()
    (tmp_path / "reference").mkdir()
    store = copy_folder(template, tmp_path / "store-folder")
    reference = copy_folder(template, tmp_path / "reference")
    for target in (store, reference):
        assert run(target, "load", small).returncode == 0
    assert run(reference, "load", source).returncode == 0
    opened = TrackStore(store, base=BASE)
    version, = members.stored_once(opened) - {v.graph for v in opened.versions()
                                              if "encode_example" in v.graph}
    kept = {str(q.triple) for block in records.blocks(records.path_of(opened, version))
            for q in ox.parse(block, format=ox.RdfFormat.N_TRIPLES)}
    del opened
    before, snapshot = state(store), current_snapshot(store)
    process, _ = paused(store, "restoring", "load", source)
    kill(process)
    assert current_snapshot(store) == snapshot
    assert unfinished(store) == [version]
    now = state(store)
    assert now["catalog"] == before["catalog"] | {pending_note(store, version,
                                                               members.RESTORING)}
    assert now["view"] == before["view"]
    doctor = run(store, "doctor")
    assert doctor.returncode == 1 and "1 unfinished version(s) stored once" in doctor.stdout
    sweep(store)
    now = state(store)
    assert not unfinished(store)
    assert now["catalog"] == before["catalog"] and now["view"] == before["view"]
    assert now["graphs"] == before["graphs"] | {version}
    assert graph_triples(store, version) == kept
    assert now["members"] == {q for q in before["members"] if f"<{version}>" not in q}
    opened = TrackStore(store, base=BASE)
    assert version not in members.stored_once(opened) and not recovery.find(opened)
    del opened
    rerun = run(store, "load", source, env={PAUSE_AT: "none"})
    assert rerun.returncode == 0, rerun.stderr
    assert "checkpoint restoring" not in rerun.stderr  # restored already
    assert run(reference, "reason").returncode == 0  # the same last command on both
    assert run(store, "reason").returncode == 0
    done, expected = state(store), state(reference)
    assert done["graphs"] == expected["graphs"] and done["members"] == expected["members"]
    assert lasting(done["catalog"]) == lasting(expected["catalog"])
    assert named(done["view"]) == named(expected["view"])
    assert len(done["view"]) == len(expected["view"])
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


@pytest.fixture(scope="module")
def restored(template, tmp_path_factory) -> Path:
    """The template with the master example's named graph given back (members.restore): the
    earlier layout, in which the next version of its document is written into a named graph."""
    folder = tmp_path_factory.mktemp("restored")
    copy_folder(template, folder)
    restore_all(folder / "store")
    return folder


def refused_store(once: bool, template: Path, restored: Path, examples,
                  tmp_path: Path) -> tuple[Path, Path]:
    """A private store and a document the standard refuses: `once`, a generated document of a
    new collection with a wrong term (written stored once, taken back from the view and the
    members graph); else the v1-current example, whose CURIE slip is refused, the next version
    of the master example's document, kept in a named graph (removed from it)."""
    if once:
        bad, = generate_documents(tracks=30, seed=22, tracks_per_document=30)
        bad["tracks"][0]["file_format"]["term_id"] = "http://purl.obolibrary.org/obo/CL_0000236"
        return copy_folder(template, tmp_path), write_json(tmp_path / "bad.json", bad)
    return (copy_folder(restored, tmp_path),
            write_json(tmp_path / "bad.json", examples["v1-current"]))


@pytest.mark.parametrize("once", [True, False], ids=["once", "named"])
def test_a_refused_document_is_removed_in_bounded_transactions_leaving_the_store_as_it_was(
        template, restored, tmp_path, examples, once):
    store, bad = refused_store(once, template, restored, examples, tmp_path)
    before = everything(store)
    result = run(store, "load", "--bulk", str(bad), env={REMOVE_BATCH: "40", PAUSE_AT: "none"})
    assert result.returncode == 1 and "breaks the standard" in result.stdout + result.stderr
    if once:  # taken back from the view, then its member quads
        assert result.stderr.count("checkpoint unwriting\n") > 3, result.stderr
        assert result.stderr.count("checkpoint removing-members\n") > 1, result.stderr
    else:  # several transactions of 40 quads
        assert result.stderr.count("checkpoint removing\n") > 3, result.stderr
    assert everything(store) == before
    opened = TrackStore(store, base=BASE)
    assert not recovery.find(opened)
    del opened


def test_a_refused_next_version_leaves_the_version_stored_once_as_it_was(store, tmp_path,
                                                                          examples):
    """The v1-current example (refused: its CURIE slip) is the next version of the master
    example's document, which the template stores once. A refused version makes nothing leave
    the view, so the store must be exactly as it was: the master example still stored once (no
    named graph, its member quads and mark kept), not only the same view and catalog."""
    before, seen = everything(store), state(store)
    bad = write_json(tmp_path / "bad.json", examples["v1-current"])
    result = run(store, "load", str(bad))
    assert result.returncode == 1 and "breaks the standard" in result.stdout + result.stderr
    now = state(store)
    assert now["catalog"] == seen["catalog"] and now["view"] == seen["view"]
    assert now["graphs"] == seen["graphs"], "the refused load restored a named graph"
    assert now["members"] == seen["members"]
    assert everything(store) == before


@pytest.mark.parametrize(("once", "stage"), [(True, "unwriting"), (True, "removing-members"),
                                             (False, "removing")],
                         ids=["once-unwriting", "once-removing-members", "named-removing"])
def test_a_removal_killed_halfway_is_swept_by_the_next_write(template, restored, tmp_path,
                                                               examples, monkeypatch, once,
                                                               stage):
    store, bad = refused_store(once, template, restored, examples, tmp_path)
    before, seen = everything(store), state(store)
    monkeypatch.setenv(REMOVE_BATCH, "40")
    process, _ = paused(store, stage, "load", str(bad))
    kill(process)  # after the first 40 quads of the refused version went
    left = state(store)
    noted = unfinished(store)
    if once:  # its note stays; part of it in the view (unwriting) or the members graph
        assert len(noted) == 1
        assert left["catalog"] == seen["catalog"] | {pending_note(store, noted[0])}
        assert left["graphs"] == seen["graphs"]
        if stage == "unwriting":
            assert named(seen["view"]) < named(left["view"])
        else:  # out of the view: the member quads go last
            assert left["view"] == seen["view"]
        assert seen["members"] < left["members"]
    else:
        assert not noted
        assert left["catalog"] == seen["catalog"] and left["view"] == seen["view"]
        debris = left["graphs"] - seen["graphs"]
        assert debris and all(g.startswith(BASE + "collection/") for g in debris), debris
    assert not everything(store) <= before  # part of the refused version is still there
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


@pytest.mark.parametrize("once", [True, False], ids=["once", "named"])
def test_a_full_disk_is_one_sentence_and_changes_nothing(tiny_disk, tmp_path, once):
    """The load that fills the disk writes a new collection (stored once) or the next version
    of a document already loaded (in a named graph)."""
    store = tiny_disk / "store"
    assert run(store, "load", MASTER).returncode == 0
    big, after_it = documents(tmp_path, 3000, 14), documents(tmp_path, 20, 15)
    if not once:  # an earlier version of `big`'s document, in a named graph
        assert run(store, "load", documents(tmp_path, 20, 14)).returncode == 0
        restore_all(store)
    assert reserve_path(store).is_file()  # the writer keeps its reserve
    before = state(store)
    snapshot = current_snapshot(store)
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
    noted = unfinished(store)
    assert bool(noted) == once
    if noted:  # written stored once: its note and its temporary record, for the next writer
        assert after["catalog"] == before["catalog"] | {pending_note(store, noted[0])}
        opened = TrackStore(store, base=BASE)
        assert any(p.name.endswith(records.TEMPORARY) for p in records.unnamed(opened))
        del opened
    else:
        assert after["catalog"] == before["catalog"] and after["view"] == before["view"]
    # space returns: the next write sweeps what the failed load left and keeps a reserve again
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    again = run(store, "doctor", "--repair")
    assert again.returncode == 0, again.stdout + again.stderr
    assert reserve_path(store).is_file()
    assert not bulk_files(store) and not unfinished(store)
    assert state(store) == before  # the debris graphs (or what was written once) are gone too
    opened = TrackStore(store, base=BASE)
    assert not records.unnamed(opened)
    del opened


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
    restore_all(folder / "store")  # that layout had every version in a named graph
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
    left: no companion, none of their links in the view or the records, the view and catalog
    of an uninterrupted migration; a re-run of `migrate` (which also stores once the current
    versions that could be) gives exactly its store."""
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
    assert lasting(now["catalog"]) == lasting(migrated["catalog"])
    assert named(now["view"]) == named(migrated["view"])
    opened = TrackStore(store, base=BASE)
    assert not current_view.links_outdated(opened)
    assert set(records.names(opened)) == {v.graph for v in opened.versions()}
    assert not records.unnamed(opened)
    # what `migrate` alone does after the drops: it stores once each current version that
    # could be (store/members.py), so the sweep leaves those in their named graphs
    converted = {v.graph for v in opened.versions()} & (migrated["graphs"] ^ now["graphs"])
    del opened
    assert now["graphs"] - converted == migrated["graphs"] - {BASE + members.MEMBERS_PATH}
    assert run(store, "doctor").returncode == 0
    again = run(store, "migrate")  # a re-run: exactly the store an uninterrupted one gives
    assert again.returncode == 0, again.stderr
    now = state(store)
    assert now["graphs"] == migrated["graphs"] and now["members"] == migrated["members"]
    assert lasting(now["catalog"]) == lasting(migrated["catalog"])
    assert named(now["view"]) == named(migrated["view"])
    assert run(store, "doctor").returncode == 0
