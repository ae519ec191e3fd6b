"""Build the offline ontology bundle and hand its modules to whoever loads them.

`build_bundle` reads each source, writes one gzipped Turtle module per ontology plus
`manifest.json`; `load_bundle_modules` lists (ontology IRI, version IRI, path) per module, checked
against the manifest's sha256, so the store can load each into its own named graph.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, NamedTuple

import pyoxigraph

from .. import __version__
from ..paths import data_dir
from .manifest import Manifest, ModuleEntry, SourceRecord
from .model import OntologyData
from .readers import read_source
from .sources import describe_source
from .vocab import (
    HIERARCHICAL_PARENT,
    IAO_DEFINITION,
    IAO_REPLACED_BY,
    OBOINOWL,
    OWL_DEPRECATED,
    OWL_EQUIVALENT_CLASS,
    PART_OF,
    RDFS_LABEL,
    RDFS_SUBCLASS_OF,
)
from .writer import ModuleCounts, ModuleHeader, write_module

MODULE_SUFFIX = ".ttl.gz"
RELATIONS = {
    "is_a": RDFS_SUBCLASS_OF,
    "part_of": f"{RDFS_SUBCLASS_OF} [ owl:onProperty {PART_OF} ; owl:someValuesFrom X ]",
    "hierarchical_parent": f"{HIERARCHICAL_PARENT} (closure sources: is_a or part_of, "
    "kind not recorded)",
    "label": RDFS_LABEL,
    "definition": IAO_DEFINITION,
    "synonyms": f"{OBOINOWL}has{{Exact,Related,Broad,Narrow}}Synonym; {OBOINOWL}hasSynonym "
    "when the source gives no scope",
    "obsolete": f"{OWL_DEPRECATED} true",
    "replaced_by": IAO_REPLACED_BY,
    "equivalent_iri": OWL_EQUIVALENT_CLASS,
}


class BundleError(RuntimeError):
    """The bundle cannot be built or does not match its manifest."""


class BundleModule(NamedTuple):
    """One module as the store loads it: into the named graph of its ontology (or version) IRI."""

    ontology_iri: str
    version_iri: str | None
    path: Path


def default_bundle_dir() -> Path:
    """The shipped bundle: `ontologies/` of the checkout, or the wheel's copy."""
    return data_dir("ontologies")


def shipped_sources(shared_dir: Path, standard_dir: Path | None = None) -> list[Path]:
    """The sources the committed bundle is built from (see ontologies/README.md).

    CL comes from cl-basic.obo (real is_a edges); the CL closure file in the same folder is not
    used, since a second CL module would compete with it.
    """
    cellxgene = shared_dir / "cellxgene"
    sources = [
        shared_dir / "so.obo",
        shared_dir / "obi.obo",
        shared_dir / "cl-basic.obo",
        *sorted(shared_dir.glob("EDAM_*.owl")),
        *sorted(cellxgene.glob("UBERON-ontology-*.json.zst")),
        *sorted(cellxgene.glob("EFO-ontology-*.json.zst")),
        standard_dir or data_dir("standard"),
    ]
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        raise BundleError(f"ontology sources missing: {', '.join(missing)}")
    return sources


def build_bundle(
    sources: Sequence[Path], out_dir: Path, *, build_date: str | None = None
) -> Manifest:
    """Read `sources`, write one module per ontology and the manifest into `out_dir`.

    All sources are read and all modules written (as `*.partial`) before anything in `out_dir` is
    replaced, so a bad source leaves the previous bundle intact. Module files are deterministic;
    only the manifest's build_date changes between identical builds. Modules listed by a previous
    manifest but not rebuilt are removed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    datasets: dict[str, OntologyData] = {}
    for source in sources:
        data = read_source(Path(source))
        key = describe_source(data.source_path, data.source_format).key or data.key
        if key in datasets:
            raise BundleError(
                f"two sources for module {key!r}: {datasets[key].source_path} and {source}"
            )
        datasets[key] = data
    partials: list[Path] = []
    try:
        modules = []
        for key in sorted(datasets):
            entry, partial = _build_module(key, datasets[key], out_dir)
            modules.append(entry)
            partials.append(partial)
    except BaseException:
        for partial in partials:
            partial.unlink(missing_ok=True)
        raise
    previous = _previous_files(out_dir)
    for entry, partial in zip(modules, partials, strict=True):
        os.replace(partial, out_dir / entry.file)
    for stale in previous - {m.file for m in modules}:
        (out_dir / stale).unlink(missing_ok=True)
    manifest = Manifest(
        build_date=build_date or datetime.now(UTC).isoformat(timespec="seconds"),
        generator=f"fairtracks-ld {__version__} (fairtracks_ld.ontology.build_bundle)",
        relations=RELATIONS,
        modules=modules,
        total_size_bytes=sum(m.size_bytes for m in modules),
    )
    manifest.save(out_dir)
    return manifest


def _build_module(key: str, data: OntologyData, out_dir: Path) -> tuple[ModuleEntry, Path]:
    """Write the module of `data` next to its final place; return its entry and that file."""
    info = describe_source(data.source_path, data.source_format)
    file_name = f"{key}{MODULE_SUFFIX}"
    source_name = data.source_path.name + ("/" if data.source_path.is_dir() else "")
    origin = info.origin + (f" @ {info.commit}" if info.commit else "")
    header = ModuleHeader(
        ontology_iri=data.ontology_iri,
        version_iri=data.version_iri,
        version=data.version,
        title=data.title or info.title,
        licence_url=info.licence_url,
        source=f"{source_name} ({origin})",
        comment=(
            "fairtracks-ld offline ontology module: classes with labels, synonyms, definitions, "
            "obsolescence and is_a / part_of / hierarchical parents only. See the bundle's "
            "README.md and manifest.json."
        ),
    )
    partial = out_dir / f"{file_name}.partial"
    counts = write_module(data, header, partial)
    triples = _check_turtle(partial, data)
    entry = ModuleEntry(
        key=key,
        file=file_name,
        sha256=sha256_of(partial),
        size_bytes=partial.stat().st_size,
        ontology_iri=data.ontology_iri,
        version_iri=data.version_iri,
        version=data.version,
        title=header.title,
        schema_ontology_iri=info.schema_ontology_iri,
        licence=info.licence,
        licence_url=info.licence_url,
        source=SourceRecord(
            file=source_name,
            format=data.source_format,
            origin=info.origin,
            commit=info.commit,
            sha256=sha256_of(data.source_path) if data.source_path.is_file() else None,
            release=data.version,
        ),
        counts=_counts_json(counts, triples),
        reader_stats=dict(sorted(data.stats.items())),
        pruning=info.pruning,
        notes=list(info.notes) + data.notes,
    )
    return entry, partial


def _check_turtle(path: Path, data: OntologyData) -> int:
    """Parse the written module with pyoxigraph (what the store uses); return its triple count."""
    try:
        with gzip.open(path, "rb") as handle:
            return sum(1 for _ in pyoxigraph.parse(handle, format=pyoxigraph.RdfFormat.TURTLE))
    except SyntaxError as error:
        path.unlink(missing_ok=True)
        raise BundleError(
            f"module written from {data.source_path} is not valid Turtle: {error}"
        ) from error


def _counts_json(counts: ModuleCounts, triples: int) -> dict[str, object]:
    return {
        "classes": counts.classes,
        "obsolete": counts.obsolete,
        "with_parents": counts.with_parents,
        "with_label": counts.with_label,
        "is_a_edges": counts.is_a,
        "part_of_edges": counts.part_of,
        "hierarchical_parent_edges": counts.hierarchical_parent,
        "equivalent_iris": counts.equivalent,
        "synonyms": counts.synonyms,
        "triples": triples,
        "classes_by_prefix": counts.classes_by_prefix,
    }


def _previous_files(out_dir: Path) -> set[str]:
    try:
        return {m.file for m in Manifest.load(out_dir).modules}
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return set()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_bundle(out_dir: Path | None = None) -> list[str]:
    """Problems with the bundle in `out_dir` (missing files, size or sha256 mismatches)."""
    out_dir = out_dir or default_bundle_dir()
    manifest = Manifest.load(out_dir)
    problems: list[str] = []
    for entry in manifest.modules:
        path = out_dir / entry.file
        if not path.is_file():
            problems.append(f"{entry.file}: missing")
        elif path.stat().st_size != entry.size_bytes or sha256_of(path) != entry.sha256:
            problems.append(f"{entry.file}: does not match manifest.json (rebuild the bundle)")
    return problems


def load_bundle_modules(out_dir: Path | None = None, *, verify: bool = True) -> list[BundleModule]:
    """(ontology IRI, version IRI, path) of every module, in manifest order.

    With `verify`, refuses a bundle whose files do not match the manifest.
    """
    out_dir = out_dir or default_bundle_dir()
    if verify:
        problems = verify_bundle(out_dir)
        if problems:
            raise BundleError(f"ontology bundle {out_dir} is inconsistent: {'; '.join(problems)}")
    manifest = Manifest.load(out_dir)
    return [BundleModule(m.ontology_iri, m.version_iri, out_dir / m.file) for m in manifest.modules]


def open_module(path: Path) -> IO[bytes]:
    """The decompressed Turtle of a module, e.g. for `pyoxigraph.Store.load(open_module(p), …)`."""
    return gzip.open(path, "rb")
