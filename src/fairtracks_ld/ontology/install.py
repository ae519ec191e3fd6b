"""Ontologies into the store: the shipped bundle, or any release a user has (file or URL).

Each ontology lives in the named graph of its ontology IRI; reloading replaces it atomically and a
broken source changes nothing. Sources are read with the bundle's readers (OBO, RDF/XML, Turtle,
N-Triples, OWL/XML, closure JSON) and written as a module first, so every ontology in the store
has the same shape whatever its source format.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from fairtracks_ld.ontology.bundle import default_bundle_dir, load_bundle_modules, open_module
from fairtracks_ld.ontology.readers import read_source
from fairtracks_ld.ontology.writer import ModuleHeader, write_module
from fairtracks_ld.reasoning import current_state, refresh
from fairtracks_ld.store import TrackStore


class OntologyInstallError(RuntimeError):
    """A source could not be fetched or read; the store is unchanged."""


def load_bundle(
    store: TrackStore, bundle_dir: Path | None = None, reason: bool = True
) -> list[str]:
    """Load every module of the (shipped) bundle; returns the ontology IRIs loaded.

    The closure and the tracks' ancestor links are recomputed once, after the last module, and
    only what changed is written (`reason=False` leaves it to the next write or
    `fairtracks-ld reason`).
    """
    previous = current_state(store) if reason else None
    loaded = []
    for module in load_bundle_modules(bundle_dir or default_bundle_dir()):
        with open_module(module.path) as turtle:
            store.load_ontology(turtle.read(), module.ontology_iri, module.version_iri,
                                source=f"bundle:{module.path.name}")
        loaded.append(module.ontology_iri)
    if reason:
        refresh(store, previous)
    return loaded


def add_ontology(store: TrackStore, location: str, reason: bool = True) -> str:
    """Load one ontology from a file or an http(s) URL; returns its ontology IRI.

    Then the closure and the tracks' ancestor links are recomputed (unless `reason=False`).
    """
    with tempfile.TemporaryDirectory(prefix="fairtracks-ld-") as tmp:
        path = _fetch(location, Path(tmp)) if _is_url(location) else Path(location)
        if not path.exists():
            raise OntologyInstallError(f"{location}: no such file")
        data = read_source(path)
        if not data.terms:
            raise OntologyInstallError(f"{location}: no ontology classes found")
        module = Path(tmp) / "module.ttl.gz"
        header = ModuleHeader(
            ontology_iri=data.ontology_iri, version_iri=data.version_iri, version=data.version,
            title=data.title, licence_url=None, source=location,
            comment=f"Loaded by fairtracks-ld from {location}",
        )
        write_module(data, header, module)
        previous = current_state(store) if reason else None
        with open_module(module) as turtle:
            store.load_ontology(turtle.read(), data.ontology_iri, data.version_iri, location)
    if reason:
        refresh(store, previous)
    return data.ontology_iri


def _is_url(location: str) -> bool:
    return urlparse(location).scheme in ("http", "https")


def _fetch(url: str, folder: Path) -> Path:
    name = Path(urlparse(url).path).name or "ontology.owl"
    target = folder / name
    try:
        with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:
        raise OntologyInstallError(f"{url}: cannot download: {error}") from error
    return target
