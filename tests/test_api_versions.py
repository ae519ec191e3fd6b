"""The TrackFind API answers each document's current version and no other: a replaced version's
new label as soon as the load returns, nothing of a withdrawn document, although the exports of
the versions they superseded stay on disk for the grace period (search/exports.py); an export
kept on disk is read, not made again; old ones are pruned by the writer and by doctor."""

from __future__ import annotations

import copy
import json
import os
import time

import pytest
import requests
from conftest import BASE, copy_store, write_json
from servers import cli, free_port, serve

from fairtracks_ld.search import exports
from fairtracks_ld.search.segments import GRACE_SECONDS
from fairtracks_ld.store import TrackStore
from fairtracks_ld.store.snapshots import current_snapshot

HUB = "api/v1/search/data.example.org/versioned"


def versioned(document: dict) -> dict:
    """A copy of a generated document as collection `versioned`."""
    doc = copy.deepcopy(document)
    doc["collection_info"]["local_id"] = "versioned"
    doc["doc_info"]["local_id"] = doc["collection_info"]["doc_ref"] = "versioned-doc"
    for study in doc["studies"]:
        study["collection_ref"] = "versioned"
    return doc


def next_version(document: dict, label: str) -> dict:
    """The document's next version (a later doc_date), its first track relabelled."""
    doc = copy.deepcopy(document)
    day = int(doc["doc_info"]["doc_date"][8:10])
    doc["doc_info"]["doc_date"] = (doc["doc_info"]["doc_date"][:8] + f"{day % 28 + 1:02d}"
                                   + doc["doc_info"]["doc_date"][10:])
    doc["doc_info"]["doc_version"] = label
    doc["tracks"][0]["label_short"] = label
    return doc


@pytest.fixture(scope="module")
def first(generated) -> dict:
    doc = versioned(generated[0])
    doc["doc_info"]["doc_date"] = "2021-01-01T00:00:00Z"
    return doc


@pytest.fixture(scope="module")
def site(bundle_template, first, tmp_path_factory):
    folder = tmp_path_factory.mktemp("api-versions")
    copy_store(bundle_template, folder / "store")
    cli(folder / "store", BASE, "load", str(write_json(folder / "v1.json", first)))
    with serve(folder / "store", free_port(), workers=2) as base:
        yield {"base": base, "store": folder / "store", "folder": folder}


def labels(site, track: str) -> list[list[str | None]]:
    """The labels the API answers for `track`, asked once per new connection (so both worker
    processes answer); a hub it does not know answers []."""
    answers = []
    for _ in range(6):
        response = requests.get(site["base"] + HUB, timeout=120, params={
            "query": f"tracks->local_id = '{track}'", "categories": "tracks"})
        assert response.status_code in (200, 404), response.text
        answers.append([r["tracks"].get("label_short") for r in response.json()]
                       if response.status_code == 200 else [])
    return answers


def current_exports(store_path) -> set[str]:
    snapshot = TrackStore(current_snapshot(store_path), read_only=True)
    return {exports.export_name(v.graph, v.loaded_at) for v in snapshot.versions()
            if v.current}


def test_the_api_answers_the_current_version_and_no_other(site, first):
    folder = exports.folder_of(site["store"])
    track = first["tracks"][0]["local_id"]
    old = current_exports(site["store"])
    assert len(old) == 1 and old <= {p.name for p in folder.iterdir()}  # made by the writer
    assert labels(site, track) == [[first["tracks"][0].get("label_short")]] * 6

    second = next_version(first, "relabelled")
    cli(site["store"], BASE, "load", str(write_json(site["folder"] / "v2.json", second)))
    assert labels(site, track) == [["relabelled"]] * 6
    assert old <= {p.name for p in folder.iterdir()}  # the superseded export, within its grace

    cli(site["store"], BASE, "withdraw", "versioned", "--reason", "test")
    assert labels(site, track) == [[]] * 6


def test_a_kept_export_is_read_not_made_again(site, first, tmp_path, monkeypatch):
    store = TrackStore(current_snapshot(site["store"]), read_only=True)
    version = store.versions()[-1]  # withdrawn or not: its export is the same
    made = exports.obtain(store, tmp_path, version)
    assert (tmp_path / exports.export_name(version.graph, version.loaded_at)).is_file()

    def export_again(*_):
        raise AssertionError("a version was exported again although its export is on disk")

    monkeypatch.setattr(exports, "exported", export_again)
    assert exports.obtain(store, tmp_path, version) == made


def test_an_export_is_kept_compressed_and_a_damaged_one_made_again(site, tmp_path):
    store = TrackStore(current_snapshot(site["store"]), read_only=True)
    version = store.versions()[-1]
    made = exports.obtain(store, tmp_path, version)
    kept = tmp_path / exports.export_name(version.graph, version.loaded_at)
    packed = kept.read_bytes()
    assert packed[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame
    assert len(packed) < len(json.dumps(made, separators=(",", ":"))) / 3
    kept.write_bytes(packed[: len(packed) // 2])  # cut short: a disk that failed mid-write
    assert exports.obtain(store, tmp_path, version) == made
    assert kept.read_bytes() == packed


def test_exports_of_versions_no_longer_current_are_pruned(bundle_template, first, generated,
                                                         tmp_path):
    store_path = tmp_path / "store"
    copy_store(bundle_template, store_path)
    cli(store_path, BASE, "load", str(write_json(tmp_path / "v1.json", first)))
    folder = exports.folder_of(store_path)
    past_grace = time.time() - GRACE_SECONDS - 60
    for path in folder.iterdir():  # the current version's export, which stays
        os.utime(path, (past_grace, past_grace))
    stale, fresh = folder / ("0" * 32 + ".json"), folder / ("f" * 32 + ".json")
    for path in (stale, fresh):
        path.write_text("{}")
    os.utime(stale, (past_grace, past_grace))
    doctor = cli(store_path, BASE, "doctor", "--repair")
    assert "1 API export file(s)" in doctor.stdout and not stale.exists() and fresh.exists()

    os.utime(fresh, (past_grace, past_grace))
    cli(store_path, BASE, "load", str(write_json(tmp_path / "other.json", generated[1])))
    assert not fresh.exists()  # the writer prunes too
    assert current_exports(store_path) == {p.name for p in folder.iterdir()}
