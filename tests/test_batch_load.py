"""A batch keeps going: each file all or nothing, a summary of loaded / refused / failed, an exit
code that says whether all loaded, and what loaded published for servers (the CLI, as a process)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BASE, write_json

from fairtracks_ld.store import TrackStore
from fairtracks_ld.store.snapshots import current_snapshot


def run(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
         *args], capture_output=True, text=True, timeout=300)


def current_collections(snapshot: Path) -> set[str]:
    store = TrackStore(snapshot, read_only=True)
    return {v.collection.rsplit("/", 1)[-1] for v in store.versions() if v.current}


@pytest.fixture(scope="module")
def batch(tmp_path_factory, generated):
    """good, malformed, invalid, good: loaded in one command with a JSON report."""
    folder = tmp_path_factory.mktemp("batch")
    invalid = copy.deepcopy(generated[1])
    del invalid["tracks"][0]["file_url"]
    del invalid["tracks"][3]["file_url"]
    paths = [write_json(folder / "a-good.json", generated[0]), folder / "b-malformed.json",
             write_json(folder / "c-invalid.json", invalid),
             write_json(folder / "d-good.json", generated[2])]
    paths[1].write_text('{"@schema": ', encoding="utf-8")
    store = folder / "store"
    result = run(store, "load", *map(str, paths), "--report", str(folder / "report.json"))
    return {"result": result, "store": store, "paths": [str(p) for p in paths],
            "report": json.loads((folder / "report.json").read_text(encoding="utf-8")),
            "collections": [generated[i]["collection_info"]["local_id"] for i in (0, 1, 2)]}


def test_the_good_files_load_and_are_published_the_bad_ones_reported(batch):
    result, (good, malformed, invalid, other) = batch["result"], batch["paths"]
    assert result.returncode == 1  # not all loaded
    assert "Traceback" not in result.stdout + result.stderr
    assert f"loaded {good} → " in result.stdout and f"loaded {other} → " in result.stdout
    err = result.stderr
    assert ("2 loaded, 1 refused (breaks the standard), 1 failed (could not be read or written) "
            "of 4 documents") in err
    assert f"  refused {invalid}: breaks the standard: 2 violation(s)" in err
    assert f"  failed {malformed}: malformed JSON (premature EOF), near byte 12" in err
    assert "fix them, or load them with --allow-invalid" in err
    snapshot = current_snapshot(batch["store"])
    assert snapshot is not None and f"published snapshot {snapshot}" in err
    first, _, second = batch["collections"]
    assert current_collections(snapshot) == {first, second}  # servers see both good ones


def test_a_refused_file_shows_its_violations_grouped(batch):
    err = batch["result"].stderr
    grouped = [line for line in err.splitlines() if "'file_url'" in line]
    assert len(grouped) == 1, grouped
    assert "2 violations:" in grouped[0]
    assert "/tracks/0/file_url" in grouped[0] and "/tracks/3/file_url" in grouped[0]


def test_the_fairtracks_global_ids_are_not_warned_about(batch):
    out = batch["result"].stdout + batch["result"].stderr
    assert "fairtracks:" not in out and "unknown CURIE prefix" not in out


def test_the_json_report_has_every_source(batch):
    report = batch["report"]
    assert (report["loaded"], report["refused"], report["failed"]) == (2, 1, 1)
    assert report["snapshot"] == str(current_snapshot(batch["store"]))
    by_source = {s["source"]: s for s in report["sources"]}
    good, malformed, invalid, other = batch["paths"]
    assert by_source[good]["status"] == by_source[other]["status"] == "loaded"
    assert by_source[good]["graph"].startswith(BASE + "collection/")
    assert by_source[good]["valid"] is True and by_source[good]["current"] is True
    assert by_source[malformed]["status"] == "failed"
    assert "malformed JSON" in by_source[malformed]["reason"]
    refused = by_source[invalid]
    assert refused["status"] == "refused"
    pointers = [f["pointer"] for f in refused["findings"] if f["severity"] == "Violation"]
    assert pointers == ["/tracks/0/file_url", "/tracks/3/file_url"]


def test_a_batch_where_nothing_loads_publishes_nothing(batch, tmp_path, generated):
    before = current_snapshot(batch["store"])
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")  # breaks the JSON parser
    refused = write_json(tmp_path / "refused.json", {"@schema": "https://example.org/other"})
    result = run(batch["store"], "load", str(deep), str(refused))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "0 loaded, 1 refused (breaks the standard), 1 failed" in result.stderr
    assert f"  failed {deep}: " in result.stderr
    assert f"  refused {refused}: /@schema: unknown @schema" in result.stderr
    assert "nothing loaded: no new snapshot published" in result.stderr
    assert current_snapshot(batch["store"]) == before


def test_all_loaded_exits_0_and_usage_errors_exit_2(tmp_path, generated):
    store = tmp_path / "store"
    good = write_json(tmp_path / "good.json", generated[3])
    result = run(store, "load", str(good))
    assert result.returncode == 0, result.stderr
    assert "all 1 document loaded; published snapshot" in result.stderr
    (tmp_path / "empty").mkdir()
    result = run(store, "load", str(tmp_path / "empty"))
    assert result.returncode == 2 and "no documents found" in result.stderr
    result = run(store, "load", str(good), "--report", str(tmp_path / "no" / "report.json"))
    assert result.returncode == 2 and "no such folder" in result.stderr
