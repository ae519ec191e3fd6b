"""The load pipeline: read files → parse JSON → map → store, all or nothing per document.

A document that cannot be read, parsed or mapped is reported with its file and the problem and
leaves the store untouched; the others still load. Documents are read one at a time, so memory
stays flat however many files a batch holds.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairtracks_ld.mapping.prepare import MappingError, Note, Prepared, prepare
from fairtracks_ld.standard import Variant
from fairtracks_ld.store import TrackStore, VersionInfo

STDIN = "-"


class DocumentError(ValueError):
    """A source that is not a loadable FAIRtracks document, named with its file."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


@dataclass
class LoadReport:
    """What a load did, per source."""

    loaded: list[tuple[str, VersionInfo, list[Note]]] = field(default_factory=list)
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
        return json.loads(text)
    except FileNotFoundError as error:
        raise DocumentError(source, "no such file") from error
    except json.JSONDecodeError as error:
        raise DocumentError(
            source, f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise DocumentError(source, f"cannot read: {error}") from error


def prepare_source(source: str, base: str, variant: Variant | None = None) -> Prepared:
    """Read and map one source."""
    document = read_json(source)
    try:
        return prepare(document, base, variant)
    except MappingError as error:
        raise DocumentError(source, str(error)) from error


def load_sources(
    store: TrackStore,
    sources: Iterable[str],
    variant: Variant | None = None,
    bulk: bool = False,
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    """Load sources into the store; `bulk` uses Oxigraph's bulk loader for the whole batch."""
    report = LoadReport()

    def prepared() -> Iterator[tuple[Prepared, str]]:
        for source in sources:
            try:
                yield prepare_source(source, store.base, variant), source
            except DocumentError as error:
                report.failed.append(error)
            if progress:
                progress(source)

    if bulk:
        notes: dict[str, list[Note]] = {}
        for version in store.bulk_write(_remember_notes(prepared(), notes)):
            report.loaded.append((version.source, version, notes.get(version.graph, [])))
    else:
        for item, source in prepared():
            version = store.write(item, source)
            report.loaded.append((source, version, item.notes))
    store.flush()
    return report


def _remember_notes(
    items: Iterator[tuple[Prepared, str]], notes: dict[str, list[Note]]
) -> Iterator[tuple[Prepared, str]]:
    for item, source in items:
        notes[item.graph] = item.notes
        yield item, source
