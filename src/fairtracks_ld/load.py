"""The load pipeline: read files → parse JSON → map → store → validate, all or nothing per document.

Each source is loaded all or nothing and stops only itself: one that breaks the standard is
*refused* (it cannot be mapped, or it does not validate), one that cannot be read or written (a
missing file, malformed or hostile JSON, an unexpected store error) has *failed*; either leaves the
store as it was and the others still load. Each document is read and mapped entity by entity and
written in chunks into its version graph, which stays invisible until the catalog names it;
validation runs on that written graph (in a memory copy written alongside, a big document's in
windows; with the store's current view as context: uniqueness and references across documents)
before the catalog update, and a refused document's graph is removed. With `allow_invalid` an
invalid document is stored anyway, its report kept with it. Memory stays bounded whatever the
size of a document or batch. The search segments and API exports of the versions written are
made before `load_sources` returns (search.segments.prepare, search.exports.prepare).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import pyoxigraph as ox

from fairtracks_ld import heap
from fairtracks_ld.faults import checkpoint
from fairtracks_ld.mapping.models import AUTO
from fairtracks_ld.mapping.notes import Notes
from fairtracks_ld.mapping.prepare import MappingError, Note, Prepared
from fairtracks_ld.mapping.stream import DocumentStream
from fairtracks_ld.search import exports, segments
from fairtracks_ld.sources import (
    DEFAULT_LIMITS,
    STDIN,
    DocumentError,
    DocumentReader,
    ReadLimits,
    RefusedDocument,
)
from fairtracks_ld.standard import ENTITY_ARRAYS, Variant
from fairtracks_ld.store import Conformance, TrackStore, VersionInfo, reserve
from fairtracks_ld.term_checks import document_notes
from fairtracks_ld.writing import stores_once, write_version

if TYPE_CHECKING:
    from fairtracks_ld.validation import DocumentReport, Validator, Windows

__all__ = ["STDIN", "DocumentError", "LoadReport", "Loaded", "RefusedDocument", "load_document",
           "load_sources"]


class Loaded(NamedTuple):
    """One stored document version."""

    source: str
    version: VersionInfo
    notes: list[Note] | Notes
    validation: DocumentReport | None = None


@dataclass
class LoadReport:
    """What a load did, per source: loaded, refused (breaks the standard) or failed (could not
    be read or written)."""

    loaded: list[Loaded] = field(default_factory=list)
    not_loaded: list[DocumentError] = field(default_factory=list)  # in the order of the batch

    @property
    def ok(self) -> bool:
        return not self.not_loaded

    @property
    def refused(self) -> list[DocumentError]:
        return [e for e in self.not_loaded if isinstance(e, RefusedDocument)]

    @property
    def failed(self) -> list[DocumentError]:
        return [e for e in self.not_loaded if not isinstance(e, RefusedDocument)]




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
    pending = iter(sources)
    for source in pending:
        if validate and validator is None:
            from fairtracks_ld.validation import Validator

            validator = Validator(store)
        try:
            report.loaded.append(load_document(store, source, validator, variant, bulk,
                                               allow_invalid, model, limits))
        except DocumentError as error:
            report.not_loaded.append(error)
        except Exception as error:  # write_version rolled this file back (a full disk: the
            # next writer sweeps it); it stops only itself …
            report.not_loaded.append(
                DocumentError(source, f"could not be stored: {_describe(error)}"))
            if reserve.is_disk_full(error):  # … unless the disk is full: the rest would use
                reserve.release(store.path)  # the space the store's reserve gives back
                report.not_loaded.extend(
                    DocumentError(rest, "not tried: the disk holding the store is full")
                    for rest in pending)
        if progress:
            progress(source)
    store.flush()
    segments.prepare(store, [done.version for done in report.loaded])
    exports.prepare(store, [done.version for done in report.loaded])
    return report


def load_document(
    store: TrackStore, source: str, validator: Validator | None = None,
    variant: Variant | None = None, bulk: bool = False, allow_invalid: bool = False,
    model: str = AUTO, limits: ReadLimits = DEFAULT_LIMITS,
) -> Loaded:
    """Read, map, write and (with a `validator`) validate one source; a DocumentError names
    why it was not loaded (a RefusedDocument when it breaks the standard), and then nothing of
    it is left in the store.

    With `bulk`, Oxigraph's bulk loader writes chunks in a writer thread and a window thread
    copies them into memory and validates the windows, while this one copies and records the
    next and a worker thread reads and maps ahead (the loader and the shapes' queries release
    the GIL), so mapping costs little extra. An invalid document is refused unless
    `allow_invalid`.
    """
    validation: DocumentReport | None = None
    with DocumentReader(source, limits) as reader:
        checkpoint("parse")
        try:
            mapped = DocumentStream(reader, store.base, variant, model, ahead=2 if bulk else 0)
        except RefusedDocument as error:
            raise _unmappable(error, reader, validator, model) from error.__cause__

        once = stores_once(store, mapped.prepared)
        windows = _windows(validator, mapped.prepared, source, reader, store, once)

        def window(graph: str, data: ox.Store) -> None:
            """Validate one window of a big document (writing.MIRROR_BYTES)."""
            assert windows is not None
            heap.trim()  # what the write phase's bulk-loader calls freed, before the shapes
            windows.add(data, graph)

        def check(graph: str, mirror: ox.Store | None) -> Conformance | None:
            """Validate the written graph: in its memory copy (writing.MIRROR_BYTES; the same
            graph, queried faster; a big document's last window, after the others), else in
            the store."""
            nonlocal validation
            assert validator is not None and windows is not None
            heap.trim()  # what the write phase's bulk-loader calls freed, before the shapes
            if mirror is not None and windows.count:
                validation = windows.finish(mirror, graph)
            else:
                validation = validator.written(store.ox if mirror is None else mirror, graph,
                                               mapped.prepared, source, reader=reader,
                                               scratch=mirror is not None)
            heap.trim()  # what the shape queries' threads freed, before the report is written
            if not validation.valid and not allow_invalid:
                raise RefusedDocument(source, "breaks the standard: " + validation.summary(),
                                      validation)
            return _conformance(validation)

        version = write_version(store, mapped, source, bulk=bulk,
                                check=check if validator is not None else None,
                                window=window if windows is not None and windows.applies
                                else None, once=once)
    notes = mapped.prepared.notes  # compact (mapping.notes.Notes) for a streamed document
    try:
        notes.extend(document_notes(store, version.graph))
    except Exception as error:  # the document is stored; only the term checks failed
        notes.append(Note("", "warning", f"term checks failed: {_describe(error)}"))
    return Loaded(source, version, notes, validation)


def _windows(validator: Validator | None, prepared: Prepared, source: str,
             reader: DocumentReader, store: TrackStore, once: bool) -> Windows | None:
    """What validates a big document window by window (validation/windows.py), looking the
    entities written so far up in the version graph, or in the view for a version stored
    `once`."""
    if validator is None:
        return None
    from fairtracks_ld.validation import Windows

    return Windows(validator, prepared, source, reader, store.ox,
                   ox.DefaultGraph() if once else None)


def _unmappable(error: RefusedDocument, reader: DocumentReader, validator: Validator | None,
                model: str) -> RefusedDocument:
    """A document that cannot be given IRIs, refused with every finding `validate` reports for
    it: an Ensembl track lacking the keys of its IRI is checked in full (under a placeholder
    IRI, never stored), so each missing key is a finding, not just the first one."""
    cause = error.__cause__
    if validator is None or not isinstance(cause, MappingError):
        return error
    try:
        document = reader.pick({}, frozenset(ENTITY_ARRAYS))
    except DocumentError:
        return error
    report = validator.unmappable(document, error.source, cause, model)
    if len(report.findings) <= 1:  # nothing more to say than the mapping's refusal
        return error
    return RefusedDocument(error.source, "breaks the standard: " + report.summary(), report)


def _describe(error: BaseException) -> str:
    """An unexpected error in one sentence: its message, or its type when it has none."""
    if reserve.is_disk_full(error):
        return ("the disk holding the store is full (No space left on device); free some "
                "space and load it again")
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _conformance(validation: DocumentReport | None) -> Conformance | None:
    if validation is None:
        return None
    return Conformance(validation.valid, len(validation.violations), len(validation.warnings),
                       validation.shacl_report())
