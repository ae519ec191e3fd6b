"""Shared fixtures: the vendored examples, generated corpora, on-disk stores."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore

BASE = "http://localhost:8000/"


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def examples() -> dict[str, dict[str, Any]]:
    """The vendored top-level example of each variant, by variant name."""
    return {variant: read(path) for variant, path in example_documents().items()}


@pytest.fixture
def example(examples) -> dict[str, Any]:
    """A fresh copy of the v1-current example, safe to mutate."""
    return copy.deepcopy(examples["v1-current"])


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

    path = tmp_path_factory.mktemp("bundle") / "store"
    store = TrackStore(path, base=BASE)
    load_bundle(store)
    store.flush()
    del store
    return path


def copy_store(template: Path, target: Path) -> TrackStore:
    """A writable copy of a closed store."""
    import pyoxigraph as ox

    ox.Store.read_only(str(template)).backup(str(target))
    return TrackStore(target, base=BASE)
