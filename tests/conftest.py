"""Shared fixtures: the vendored examples, generated corpora, on-disk stores."""

from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from service_gate import Gate

from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore

BASE = "http://localhost:8000/"
# The suite makes hundreds of stores: each writer's disk reserve is capped at 2 MiB instead of
# 64 (inherited by the CLI and servers the tests start; the full-disk tests' tiny disks get an
# eighth of their size, under this cap, as they would without it).
os.environ.setdefault("FAIRTRACKS_LD_RESERVE_BYTES", str(2 * 1024 * 1024))
# A big load's background compaction (store/optimizer.py) would publish a snapshot of its own at
# some moment during the tests that follow the load: off, except where a test turns it on.
os.environ.setdefault("FAIRTRACKS_LD_OPTIMIZE_SHARE", "0")
# The load memo (fairtracks_ld.memo) of the suite's own processes lives in a folder of this run,
# not in the user's ~/.cache: filled by the first tests, read by the rest.
if "FAIRTRACKS_LD_MEMO" not in os.environ:
    os.environ["FAIRTRACKS_LD_MEMO"] = tempfile.mkdtemp(prefix="fairtracks-ld-memo-")
    atexit.register(shutil.rmtree, os.environ["FAIRTRACKS_LD_MEMO"], True)


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def examples() -> dict[str, dict[str, Any]]:
    """The vendored top-level example of each variant, by variant name."""
    return {variant: read(path) for variant, path in example_documents().items()}


@pytest.fixture
def example(examples) -> dict[str, Any]:
    """A fresh copy of the v1-current example, safe to mutate, with its one slip fixed: the
    official example writes the CURIE "encode: ENCFF207FGO" (a space), which the standard's
    CURIE rule refuses, so `load` would refuse the document."""
    document = copy.deepcopy(examples["v1-current"])
    assert document["tracks"][0]["raw_file_ids"][0] == "encode: ENCFF207FGO"
    document["tracks"][0]["raw_file_ids"][0] = "encode:ENCFF207FGO"
    return document


@pytest.fixture(scope="session")
def generated() -> list[dict[str, Any]]:
    """A small generated corpus in both variants, several documents each."""
    from fairtracks_ld.generate import generate_documents

    docs = list(generate_documents(tracks=120, seed=7, tracks_per_document=50))
    docs += list(generate_documents(tracks=60, seed=8, variant="master", tracks_per_document=40))
    return docs


@pytest.fixture
def store(tmp_path) -> TrackStore:
    """A real on-disk store in a fresh folder."""
    return TrackStore(tmp_path / "store", base=BASE)


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bundle_template(tmp_path_factory) -> Path:
    """A store holding the shipped ontology bundle and its closure, built once per session.

    Tests never write to it: `copy_store` gives each module its own copy (an Oxigraph backup,
    hard links, instant).
    """
    from fairtracks_ld.ontology.install import load_bundle

    folder = tmp_path_factory.mktemp("bundle")
    store = TrackStore(folder / "build", base=BASE)
    load_bundle(store)
    return frozen(store, folder / "store")


def copy_store(template: Path, target: Path) -> TrackStore:
    """A writable copy of a closed store."""
    import pyoxigraph as ox

    ox.Store.read_only(str(template)).backup(str(target))
    return TrackStore(target, base=BASE)


OBO = "http://purl.obolibrary.org/obo/"
B_CELL, CEREBELLUM = OBO + "CL_0000236", OBO + "UBERON_0002037"
HISTONE_CHIP = OBO + "OBI_0002017"


def term(iri: str, label: str) -> dict[str, str]:
    return {"term_id": iri, "term_label": label}


BIOSPECIMEN_CLASSES = {
    field: {"term_id": f"http://purl.obolibrary.org/obo/NCIT_{code}", "term_label": label}
    for field, code, label in [("cell_type", "C12508", "Cell"),
                               ("abnormal_cell_type", "C12913", "Abnormal Cell"),
                               ("cell_line", "C16403", "Cell Line"),
                               ("organism_part", "C103199", "Organism Part")]
}


def annotate(
    document: dict, samples: dict[int, dict] | None = None,
    techniques: dict[int, dict] | None = None, collection: str | None = None,
) -> dict:
    """A copy of a generated document with chosen sample types and techniques; with
    `collection`, a copy into that collection with its own local_ids (which the standard wants
    unique across the store), references renamed alike."""
    doc = copy.deepcopy(document)
    if collection:
        doc["collection_info"]["local_id"] = collection
        for study in doc["studies"]:
            study["collection_ref"] = collection
        doc["doc_info"]["local_id"] = f"{collection}-{doc['doc_info']['local_id']}"
        doc["collection_info"]["doc_ref"] = doc["doc_info"]["local_id"]
        for key in ("studies", "experiments", "samples", "tracks"):
            for item in doc[key]:
                for field in ("local_id", "study_ref", "sample_ref", "experiment_ref"):
                    if field in item:
                        item[field] = f"{collection}-{item[field]}"
    for index, sample_type in (samples or {}).items():
        doc["samples"][index]["sample_type"] = {**sample_type, "summary": "chosen"}
        kind, = sample_type  # the biospecimen class the standard pairs with that field
        doc["samples"][index]["biospecimen_class"] = BIOSPECIMEN_CLASSES[kind]
    for index, technique in (techniques or {}).items():
        doc["experiments"][index]["technique"] = technique
    return doc


def track_iris(doc: dict, sample: int | None = None, experiment: int | None = None) -> set[str]:
    """IRIs of the tracks of one sample or experiment of a document."""
    from fairtracks_ld.mapping.iris import IriMinter

    minter = IriMinter(BASE, doc["collection_info"]["local_id"])
    experiments = {
        e["local_id"] for i, e in enumerate(doc["experiments"])
        if (experiment is None or i == experiment)
        and (sample is None or e["sample_ref"] == doc["samples"][sample]["local_id"])
    }
    return {minter.entity_iri("track", t["local_id"]) for t in doc["tracks"]
            if t["experiment_ref"] in experiments}


@pytest.fixture(scope="session")
def chosen(generated) -> dict:
    """A document whose sample 0 is a B cell, sample 1 cerebellum, experiment 0 histone ChIP."""
    return annotate(
        generated[0],
        samples={0: {"cell_type": term(B_CELL, "B cell")},
                 1: {"organism_part": term(CEREBELLUM, "cerebellum")}},
        techniques={0: term(HISTONE_CHIP, "histone modification identification by ChIP-Seq "
                                          "assay")},
        collection="chosen",
    )


@pytest.fixture(scope="session")
def corpus_template(bundle_template, tmp_path_factory, generated, chosen) -> Path:
    """The bundle plus the generated corpus and the chosen document, built once per session."""
    from fairtracks_ld.load import load_sources

    folder = tmp_path_factory.mktemp("corpus")
    store = copy_store(bundle_template, folder / "build")
    paths = [str(write_json(folder / f"g{i}.json", d)) for i, d in enumerate(generated)]
    report = load_sources(store, [*paths, str(write_json(folder / "chosen.json", chosen))])
    assert report.ok
    return frozen(store, folder / "store")


def frozen(store: TrackStore, target: Path) -> Path:
    """An Oxigraph backup of `store` at `target` that no process has open: the template the
    modules copy. Copying the built store itself raced with its own merges, which go on while
    anything still references it (a fresh-clone run: a module's backup read a table file a
    merge had just deleted, FileNotFoundError); a backup is a fixed set of hard links."""
    store.flush()
    store.ox.backup(str(target))
    return target


def copy_folder(template: Path, target: Path) -> Path:
    """A private copy of a folder holding a store and its neighbours (snapshots, lock file),
    symlinks kept as links; returns the copied store. The store's disk reserve (zeros) is
    left out: the copy's first writer allocates its own."""
    import shutil

    from fairtracks_ld.store.reserve import RESERVE_NAME

    for path in template.iterdir():
        if path.is_dir():
            shutil.copytree(path, target / path.name, symlinks=True,
                            ignore=shutil.ignore_patterns(RESERVE_NAME))
        else:
            shutil.copy2(path, target / path.name)
    return target / "store"


@pytest.fixture(scope="session")
def session_gate():
    """The gate of service_gate (servers that allow SERVICE to it are started with its
    endpoint, so there is one for the whole run)."""
    gate = Gate()
    yield gate
    gate.release_all()
    gate.shutdown()


@pytest.fixture
def gate(session_gate):
    """The gate, with nothing held or recorded; whatever the test left held is let go."""
    session_gate.reset()
    yield session_gate
    session_gate.release_all()
