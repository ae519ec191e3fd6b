"""A document over writing.MIRROR_BYTES is validated in windows of memory stores
(validation/windows.py): the report is the one validating the whole document gives, for a
valid document and for each rule that needs more than one window: references to entities of
other windows (before and after) or of none, references to an entity of another class,
local_ids taken in the store, ontology terms outside their required ancestor, the document
node's counts, header rules, list items' pointers, and a master document's rules (their
targets walk from doc_info)."""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import pyoxigraph as ox
import pytest
from conftest import BASE, write_json

from fairtracks_ld import writing
from fairtracks_ld.load import DocumentError, load_document, load_sources
from fairtracks_ld.mapping import stream
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.store import TrackStore, current_view
from fairtracks_ld.validation import DocumentReport, Validator, Windows, findings
from fairtracks_ld.validation import windows as windows_module
from fairtracks_ld.validation.documents import Finding

WINDOW = 60_000  # bytes of N-Triples per window: a few chunks of a few entities each
NOT_PLANNED = {"term_id": "http://purl.obolibrary.org/obo/OBI_0100051", "term_label": "specimen"}


def _valid(document: dict[str, Any], other: dict[str, Any]) -> None:
    """Unchanged: its experiments' sample_refs name samples of later windows."""


def _references(document: dict[str, Any], other: dict[str, Any]) -> None:
    tracks, experiments, samples = (document[k] for k in ("tracks", "experiments", "samples"))
    tracks[-1]["experiment_ref"] = experiments[0]["local_id"]  # an early window, from the last
    tracks[40]["experiment_ref"] = "gen:no-such-experiment"  # dangling
    tracks[2]["experiment_ref"] = samples[-1]["local_id"]  # an entity of another class
    experiments[-1]["sample_ref"] = "gen:no-such-sample"  # dangling, forward
    experiments[0]["study_ref"] = "gen:no-such-study"


def _store_ids(document: dict[str, Any], other: dict[str, Any]) -> None:
    document["studies"][0]["local_id"] = other["studies"][0]["local_id"]  # taken in the store
    document["samples"][-1]["local_id"] = other["samples"][3]["local_id"]
    document["tracks"][-2]["local_id"] = other["tracks"][5]["local_id"]
    for experiment in document["experiments"]:  # their refs follow the renamed sample
        if experiment["sample_ref"] == document["samples"][-1]["local_id"]:
            experiment["sample_ref"] = other["samples"][3]["local_id"]


def _ontology(document: dict[str, Any], other: dict[str, Any]) -> None:
    document["experiments"][1]["technique"] = dict(NOT_PLANNED)  # not a planned process
    document["experiments"][-1]["technique"] = dict(NOT_PLANNED)  # same term, last window
    document["tracks"][-1]["file_format"] = {"term_id": "not a term"}
    document["samples"][5]["sample_type"]["cell_type"] = dict(NOT_PLANNED)  # not a cell


def _structure(document: dict[str, Any], other: dict[str, Any]) -> None:
    del document["tracks"][0]["file_url"]  # sh:minCount, first window
    document["tracks"][37]["raw_file_ids"] = ["encode:ENCFF000AAA", "encode: ENCFF207FGO"]
    document["tracks"][-3]["raw_file_ids"] = ["geo:not-a-series"]  # a list item, last window
    document["doc_info"]["doc_url"] = "not a url"  # the header, in every window
    document["studies"] = []  # the document node's count (minItems)


def _master(document: dict[str, Any], other: dict[str, Any]) -> None:
    """A master document: its rules' targets walk from doc_info/has_augmented_metadata."""
    assert document["doc_info"]["has_augmented_metadata"] is True
    del document["tracks"][0]["file_name"]  # required when augmented, first window
    del document["tracks"][-1]["file_name"]  # and last


CASES = {"valid": _valid, "references": _references, "store ids": _store_ids,
         "ontology": _ontology, "structure": _structure, "master": _master}
MASTER = 3  # the first master document of the `generated` corpus (v1-current before it)


def _document(generated: list[dict[str, Any]], case: str) -> dict[str, Any]:
    return copy.deepcopy(generated[MASTER if case == "master" else 0])


@pytest.fixture(scope="module")
def shared(tmp_path_factory, generated) -> tuple[TrackStore, dict[str, Any]]:
    """A store holding another document (uniqueness across the store) and that document."""
    folder = tmp_path_factory.mktemp("windows")
    other = generated[1]
    store = TrackStore(folder / "store", base=BASE)
    assert load_sources(store, [str(write_json(folder / "other.json", other))]).ok
    return store, other


def _seen(report: DocumentReport) -> list[dict[str, Any]]:
    return [f.to_json() for f in report.findings]


def _report(report: DocumentReport) -> set[ox.Triple]:
    assert report.report is not None
    dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in report.report.triples())
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return set(dataset)


def _load(store: TrackStore, path: str) -> DocumentReport:
    """The document loaded (or refused: the store stays as it was), its report."""
    try:
        loaded = load_document(store, path, Validator(store), bulk=True)
    except DocumentError as refused:
        assert refused.validation is not None
        return refused.validation
    assert loaded.validation is not None
    return loaded.validation


@pytest.mark.parametrize("case", list(CASES))
def test_windows_give_the_report_of_the_whole_document(case, shared, generated, tmp_path,
                                                       monkeypatch):
    store, other = shared
    document = _document(generated, case)
    document["doc_info"]["doc_version"] = f"windows-{case}"
    CASES[case](document, other)
    path = str(write_json(tmp_path / "doc.json", document))
    whole = Validator(store).document(copy.deepcopy(document))
    monkeypatch.setattr(stream, "CHUNK_BYTES", 3000)  # chunks of a few entities
    monkeypatch.setattr(writing, "MIRROR_BYTES", WINDOW)
    # chunks written to disk promptly: a reference to an earlier window's entity is found
    # there while windows are validated, one to a later window's when all is written
    monkeypatch.setattr(current_view, "GATHER", 1 << 14)
    windows: list[bool] = []  # each window validated, True for the last
    add, finish = Windows.add, Windows.finish

    def spy_add(self, *args):
        windows.append(False)
        return add(self, *args)

    def spy_finish(self, *args):
        windows.append(True)
        return finish(self, *args)

    monkeypatch.setattr(Windows, "add", spy_add)
    monkeypatch.setattr(Windows, "finish", spy_finish)
    deferred: list[bool] = []  # references to later windows' entities, spooled
    defer = windows_module._Deferred.add
    monkeypatch.setattr(windows_module._Deferred, "add",
                        lambda self, *args: deferred.append(defer(self, *args)) or deferred[-1])
    windowed = _load(store, path)
    assert len(windows) > 3 and windows[-1] and not any(windows[:-1])
    assert any(deferred)  # the experiments' sample_refs, and the `references` case's
    assert _seen(windowed) == _seen(whole)
    assert _report(windowed) == _report(whole)
    assert (windowed.valid, len(windowed.violations), len(windowed.warnings)) == (
        whole.valid, len(whole.violations), len(whole.warnings))
    assert findings.render(windowed.items()) == findings.render(whole.items())
    assert windowed.valid == (case == "valid")


def _valid_in_small_windows(generated: list[dict[str, Any]], version: str, tmp_path,
                            monkeypatch) -> str:
    """The valid document as a new version (its file), loaded in windows of a few chunks."""
    document = _document(generated, "valid")
    document["doc_info"]["doc_version"] = version
    monkeypatch.setattr(stream, "CHUNK_BYTES", 3000)
    monkeypatch.setattr(writing, "MIRROR_BYTES", WINDOW)
    return str(write_json(tmp_path / "doc.json", document))


def test_a_reference_to_an_earlier_window_is_accepted_in_its_own(shared, generated, tmp_path,
                                                                 monkeypatch):
    """A track's experiment_ref naming an experiment an earlier window wrote is accepted in
    the track's window (it gets a record of the written entity), not reported there and
    deferred: a 100k-track document's windows reported every track's."""
    store, _ = shared
    path = _valid_in_small_windows(generated, "windows-earlier", tmp_path, monkeypatch)
    monkeypatch.setattr(current_view, "GATHER", 1 << 14)
    deferred: list[str] = []  # the reference predicates of the results deferred
    defer = windows_module._Deferred.add

    def spy(self, result, position):
        deferred.append(result.path.iri)
        return defer(self, result, position)

    monkeypatch.setattr(windows_module._Deferred, "add", spy)
    assert _load(store, path).valid
    assert deferred  # the experiments' sample_refs name samples of later windows
    assert FT + "experiment_ref" not in deferred


def test_windows_are_validated_in_a_thread_of_their_own_and_a_failing_one_takes_all_back(
        shared, generated, tmp_path, monkeypatch):
    """With --bulk a window's copy and shapes run in the window thread while the loading
    thread records and writes the next chunks; an error there fails the load, which waits
    for that thread and leaves the store as it was (nothing of the document, no record)."""
    store, _ = shared
    path = _valid_in_small_windows(generated, "windows-failing", tmp_path, monkeypatch)
    threads: list[str] = []
    add = Windows.add

    def failing(self, data, graph):
        threads.append(threading.current_thread().name)
        if len(threads) == 3:
            raise RuntimeError("window three failed")
        return add(self, data, graph)

    monkeypatch.setattr(Windows, "add", failing)
    def files() -> list[str]:
        return sorted(str(p) for p in (store.path / "records").rglob("*") if p.is_file())

    before = (len(store.ox), files())
    report = load_sources(store, [path], bulk=True)
    assert [str(e) for e in report.not_loaded] == [
        f"{path}: could not be stored: window three failed"]
    assert len(threads) == 3 and all(t.startswith("fairtracks-ld-window") for t in threads)
    assert (len(store.ox), files()) == before


def test_the_cases_break_the_rules_they_name(shared, generated):
    """What the cases above compare is there to compare (checked on the whole document)."""
    store, other = shared
    found: dict[str, set[str]] = {}
    for case, change in CASES.items():
        document = _document(generated, case)
        change(document, other)
        report = Validator(store).document(document)
        found[case] = {f.pointer for f in report.violations}
    last = len(generated[0]["tracks"]) - 1
    assert found["valid"] == set()
    assert found["references"] == {"/tracks/40/experiment_ref", "/tracks/2/experiment_ref",
                                   f"/experiments/{len(generated[0]['experiments']) - 1}"
                                   "/sample_ref", "/experiments/0/study_ref"}
    assert {"/studies/0/local_id", f"/tracks/{last - 1}/local_id"} <= found["store ids"]
    assert {"/experiments/1/technique/term_id", f"/tracks/{last}/file_format/term_id",
            "/samples/5/sample_type/cell_type/term_id"} <= found["ontology"]
    assert {"/tracks/0/file_url", "/tracks/37/raw_file_ids/1", "/doc_info/doc_url",
            "/studies"} <= found["structure"]
    master = len(generated[MASTER]["tracks"]) - 1
    assert {"/tracks/0/file_name", f"/tracks/{master}/file_name"} <= found["master"]


def test_a_duplicate_local_id_in_another_window_is_refused_as_before(
        shared, generated, tmp_path, monkeypatch):
    """Uniqueness within the document is the mapping's (mapping/unique.py): windows or not,
    the same refusal with both pointers."""
    store, _ = shared
    document = copy.deepcopy(generated[0])
    document["doc_info"]["doc_version"] = "windows-duplicate"
    document["tracks"][45]["local_id"] = document["tracks"][1]["local_id"]
    path = str(write_json(tmp_path / "dup.json", document))
    refusals = []
    for window in (writing.MIRROR_BYTES, WINDOW):
        monkeypatch.setattr(writing, "MIRROR_BYTES", window)
        monkeypatch.setattr(stream, "CHUNK_BYTES", 3000)
        with pytest.raises(DocumentError) as refused:
            load_document(store, path, Validator(store), bulk=True)
        refusals.append(str(refused.value))
    assert refusals[0] == refusals[1] and "/tracks/45/local_id" in refusals[0]


def test_a_finding_on_the_header_is_reported_once(shared, generated, tmp_path, monkeypatch):
    """The header is in every window; its findings are taken from the last one only."""
    store, _ = shared
    document = copy.deepcopy(generated[0])
    document["doc_info"]["doc_version"] = "windows-header"
    document["doc_info"]["doc_url"] = "not a url"
    path = str(write_json(tmp_path / "header.json", document))
    monkeypatch.setattr(stream, "CHUNK_BYTES", 3000)
    monkeypatch.setattr(writing, "MIRROR_BYTES", WINDOW)
    report = _load(store, path)
    header: list[Finding] = [f for f in report.findings if f.pointer == "/doc_info/doc_url"]
    assert header and len(header) == len({json.dumps(f.to_json()) for f in header})


def test_a_document_with_members_after_its_arrays_is_validated_in_the_store(
        shared, generated, tmp_path, monkeypatch):
    """A member of the document's own after its entity arrays would be in one window only:
    such a document drops its windows and is validated in the store, with the same report."""
    store, other = shared
    document = copy.deepcopy(generated[0])
    document["doc_info"]["doc_version"] = "windows-late-member"
    _references(document, other)
    document["late_note"] = {"text": "after the arrays"}  # an extension member, mapped last
    path = str(write_json(tmp_path / "late.json", document))
    whole = Validator(store).document(copy.deepcopy(document))
    monkeypatch.setattr(stream, "CHUNK_BYTES", 3000)
    monkeypatch.setattr(writing, "MIRROR_BYTES", WINDOW)
    scratch: list[bool] = []
    written = Validator.written

    def spy(self, data, graph, prepared, source, *args, **kwargs):
        scratch.append(kwargs.get("scratch", False))
        return written(self, data, graph, prepared, source, *args, **kwargs)

    monkeypatch.setattr(Validator, "written", spy)
    windowed = _load(store, path)
    assert scratch == [False]  # in the store
    assert _seen(windowed) == _seen(whole) and _report(windowed) == _report(whole)
