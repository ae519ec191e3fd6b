"""The load pipeline: read files → parse JSON → map → validate → store, all or nothing per document.

Each source is loaded all or nothing and stops only itself: one that breaks the standard is
*refused* (it cannot be mapped, or it does not validate), one that cannot be read or written (a
missing file, malformed JSON, an unexpected store error) has *failed*; either leaves the store as
it was and the others still load. Validation runs against the store (uniqueness and references
across documents) before anything is written; with `allow_invalid` an invalid document is stored
anyway, its report kept with it. Documents are read one at a time, so memory stays flat however
many files a batch holds.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from threading import Thread
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from fairtracks_ld.faults import checkpoint
from fairtracks_ld.mapping.prepare import MappingError, Note, Prepared
from fairtracks_ld.models import AUTO, prepare_document
from fairtracks_ld.standard import Variant
from fairtracks_ld.store import Conformance, TrackStore, VersionInfo
from fairtracks_ld.term_checks import document_notes

if TYPE_CHECKING:
    from fairtracks_ld.validation import DocumentReport, Validator

STDIN = "-"
T = TypeVar("T")


class DocumentError(ValueError):
    """A source that could not be loaded, named with its file: it could not be read or written
    (a `RefusedDocument` when it was read but breaks the standard)."""

    def __init__(self, source: str, message: str,
                 validation: DocumentReport | None = None) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
        self.validation = validation  # set when the document was refused for breaking rules


class RefusedDocument(DocumentError):
    """A source that was read but breaks the standard: it cannot be mapped or does not validate."""


class Loaded(NamedTuple):
    """One stored document version."""

    source: str
    version: VersionInfo
    notes: list[Note]
    validation: DocumentReport | None = None


class Mapped(NamedTuple):
    """One source read and mapped: the JSON as written (for report pointers) and its RDF."""

    document: Any
    prepared: Prepared


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


def read_json(source: str) -> Any:
    """Parse one source; malformed JSON is a DocumentError naming line and column."""
    try:
        if source == STDIN:
            text = sys.stdin.buffer.read()
        elif source.endswith(".gz"):
            with gzip.open(source, "rb") as handle:
                text = handle.read()
        else:
            text = Path(source).read_bytes()
        checkpoint("parse")
        return json.loads(text)
    except FileNotFoundError as error:
        raise DocumentError(source, "no such file") from error
    except json.JSONDecodeError as error:
        raise DocumentError(
            source, f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise DocumentError(source, f"cannot read: {error}") from error


def map_source(source: str, base: str, variant: Variant | None = None,
               model: str = AUTO) -> Mapped:
    """Read and map one source, as `model` or as the model it has the shape of."""
    document = read_json(source)
    try:
        return Mapped(document, prepare_document(document, base, model, variant))
    except MappingError as error:
        raise RefusedDocument(source, str(error)) from error


def load_sources(
    store: TrackStore,
    sources: Iterable[str],
    variant: Variant | None = None,
    bulk: bool = False,
    progress: Callable[[str], None] | None = None,
    validate: bool = True,
    allow_invalid: bool = False,
    model: str = AUTO,
) -> LoadReport:
    """Load sources into the store, each document all or nothing.

    With `validate` (the default) each document is checked against the shapes and the store
    first; an invalid one is refused (store unchanged) unless `allow_invalid`. With `bulk`,
    Oxigraph's bulk loader writes each document while a worker thread already reads and maps the
    next one (the loader releases the GIL), so mapping costs little extra. Each stored version's
    notes also say which annotations use obsolete terms and where its doc_ontology_versions
    differ from the loaded ontologies.
    """
    report = LoadReport()
    validator = None

    def mapped() -> Iterator[tuple[str, Mapped | DocumentError]]:
        for source in sources:
            try:
                yield source, map_source(source, store.base, variant, model)
            except DocumentError as error:
                yield source, error
            except Exception as error:  # whatever breaks one file stops only it
                yield source, DocumentError(source, f"cannot be read: {_describe(error)}")

    items = _prefetch(mapped()) if bulk else mapped()
    for source, item in items:
        if isinstance(item, DocumentError):
            report.not_loaded.append(item)
        else:
            if validate and validator is None:
                from fairtracks_ld.validation import Validator

                validator = Validator(store)
            try:
                outcome = _store_one(store, validator, source, item, bulk, allow_invalid)
            except DocumentError as error:
                outcome = error
            except Exception as error:  # store.write rolled this file back
                outcome = DocumentError(source, f"could not be stored: {_describe(error)}")
            if isinstance(outcome, DocumentError):
                report.not_loaded.append(outcome)
            else:
                report.loaded.append(outcome)
        if progress:
            progress(source)
    store.flush()
    return report


def _store_one(store: TrackStore, validator: Validator | None, source: str, item: Mapped,
               bulk: bool, allow_invalid: bool) -> Loaded:
    """Validate (in this thread: it must see the documents written before it) and write one
    mapped document; a RefusedDocument when it breaks the standard."""
    validation = None
    if validator is not None:
        validation = validator.prepared(item.prepared, item.document, source)
    if validation is not None and not validation.valid and not allow_invalid:
        raise RefusedDocument(source, "breaks the standard: " + validation.summary(), validation)
    version = store.write(item.prepared, source, bulk=bulk, conformance=_conformance(validation))
    try:
        notes = item.prepared.notes + document_notes(store, version.graph)
    except Exception as error:  # the document is stored; only the checks failed
        notes = [*item.prepared.notes,
                 Note("", "warning", f"term checks failed: {_describe(error)}")]
    return Loaded(source, version, notes, validation)


def _describe(error: BaseException) -> str:
    """An unexpected error in one sentence: its message, or its type when it has none."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _conformance(validation: DocumentReport | None) -> Conformance | None:
    if validation is None:
        return None
    return Conformance(validation.valid, len(validation.violations), len(validation.warnings),
                       validation.shacl_report())


def _prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Run `items` in a worker thread, at most `depth` ahead (memory stays bounded)."""
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)

    def work() -> None:
        try:
            for item in items:
                queue.put((True, item))
            queue.put((False, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            queue.put((False, error))

    Thread(target=work, daemon=True).start()
    while True:
        more, item = queue.get()
        if not more:
            if item is not None:
                raise item
            return
        yield item
