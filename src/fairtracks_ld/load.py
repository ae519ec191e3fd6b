"""The load pipeline: read files → parse JSON → map → store → validate, all or nothing per document.

A document that cannot be read, parsed or mapped, or that breaks the standard, is reported with
its file and the problem and leaves the store untouched; the others still load. Each document is
read and mapped entity by entity and written in chunks into its version graph, which stays
invisible until the catalog names it; validation runs on that written graph (with the store's
current view as context: uniqueness and references across documents) before the catalog update,
and a refused document's graph is removed. With `allow_invalid` an invalid document is stored
anyway, its report kept with it. Memory stays bounded whatever the size of a document or batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from fairtracks_ld.mapping.prepare import Note
from fairtracks_ld.mapping.stream import DocumentStream
from fairtracks_ld.models import AUTO
from fairtracks_ld.sources import DEFAULT_LIMITS, STDIN, DocumentError, DocumentReader, ReadLimits
from fairtracks_ld.standard import Variant
from fairtracks_ld.store import Conformance, TrackStore, VersionInfo
from fairtracks_ld.term_checks import document_notes

if TYPE_CHECKING:
    from fairtracks_ld.validation import DocumentReport, Validator

__all__ = ["STDIN", "DocumentError", "LoadReport", "Loaded", "expand_sources", "load_document",
           "load_sources"]


class Loaded(NamedTuple):
    """One stored document version."""

    source: str
    version: VersionInfo
    notes: list[Note]
    validation: DocumentReport | None = None


@dataclass
class LoadReport:
    """What a load did, per source."""

    loaded: list[Loaded] = field(default_factory=list)
    failed: list[DocumentError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def expand_sources(paths: Iterable[str]) -> list[str]:
    """Files as given, folders as their *.json / *.json.gz files (sorted), '-' for stdin."""
    sources: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == STDIN:
            sources.append(STDIN)
        elif path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*") if p.name.endswith((".json", ".json.gz"))
            )
            sources.extend(found)
        else:
            sources.append(raw)
    return sources


def load_sources(
    store: TrackStore,
    sources: Iterable[str],
    variant: Variant | None = None,
    bulk: bool = False,
    progress: Callable[[str], None] | None = None,
    validate: bool = True,
    allow_invalid: bool = False,
    model: str = AUTO,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> LoadReport:
    """Load sources into the store, each document all or nothing (see `load_document`).

    Each stored version's notes also say which annotations use obsolete terms and where its
    doc_ontology_versions differ from the loaded ontologies.
    """
    report = LoadReport()
    validator = None
    for source in sources:
        if validate and validator is None:
            from fairtracks_ld.validation import Validator

            validator = Validator(store)
        try:
            report.loaded.append(load_document(store, source, validator, variant, bulk,
                                               allow_invalid, model, limits))
        except DocumentError as error:
            report.failed.append(error)
        if progress:
            progress(source)
    store.flush()
    return report


def load_document(
    store: TrackStore, source: str, validator: Validator | None = None,
    variant: Variant | None = None, bulk: bool = False, allow_invalid: bool = False,
    model: str = AUTO, limits: ReadLimits = DEFAULT_LIMITS,
) -> Loaded:
    """Read, map, write and (with a `validator`) validate one source; a DocumentError names
    why it was refused, and then nothing of it is left in the store.

    With `bulk`, Oxigraph's bulk loader writes each chunk while a worker thread already reads
    and maps the next (the loader releases the GIL), so mapping costs little extra. An invalid
    document is refused unless `allow_invalid`.
    """
    validation: DocumentReport | None = None
    with DocumentReader(source, limits) as reader:
        mapped = DocumentStream(reader, store.base, variant, model, ahead=2 if bulk else 0)

        def check(graph: str) -> Conformance | None:
            nonlocal validation
            assert validator is not None
            validation = validator.written(store.ox, graph, mapped.prepared, source,
                                           reader=reader)
            if not validation.valid and not allow_invalid:
                raise DocumentError(source, "breaks the standard: " + validation.summary(),
                                    validation)
            return _conformance(validation)

        version = store.write(mapped, source, bulk=bulk,
                              check=check if validator is not None else None)
    notes = mapped.prepared.notes + document_notes(store, version.graph)
    return Loaded(source, version, notes, validation)


def _conformance(validation: DocumentReport | None) -> Conformance | None:
    if validation is None:
        return None
    return Conformance(validation.valid, len(validation.violations), len(validation.warnings),
                       validation.shacl_report())
