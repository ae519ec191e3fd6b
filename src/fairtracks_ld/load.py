"""The load pipeline: read files → parse JSON → map → validate → store, all or nothing per document.

A document that cannot be read, parsed or mapped, or that breaks the standard, is reported with
its file and the problem and leaves the store untouched; the others still load. Validation runs
against the store (uniqueness and references across documents) before anything is written; with
`allow_invalid` an invalid document is stored anyway, its report kept with it. Documents are read
one at a time, so memory stays flat however many files a batch holds.
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
    from fairtracks_ld.validation import DocumentReport

STDIN = "-"
T = TypeVar("T")


class DocumentError(ValueError):
    """A source that is not a loadable FAIRtracks document, named with its file."""

    def __init__(self, source: str, message: str,
                 validation: DocumentReport | None = None) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
        self.validation = validation  # set when the document was refused for breaking rules


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
        raise DocumentError(source, str(error)) from error


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

    items = _prefetch(mapped()) if bulk else mapped()
    for source, item in items:
        if isinstance(item, DocumentError):
            report.failed.append(item)
        else:
            validation = None
            if validate:  # in this thread: it must see the documents written before it
                if validator is None:
                    from fairtracks_ld.validation import Validator

                    validator = Validator(store)
                validation = validator.prepared(item.prepared, item.document, source)
            if validation is not None and not validation.valid and not allow_invalid:
                report.failed.append(DocumentError(
                    source, "breaks the standard: " + validation.summary(), validation))
            else:
                version = store.write(item.prepared, source, bulk=bulk,
                                      conformance=_conformance(validation))
                notes = item.prepared.notes + document_notes(store, version.graph)
                report.loaded.append(Loaded(source, version, notes, validation))
        if progress:
            progress(source)
    store.flush()
    return report


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
