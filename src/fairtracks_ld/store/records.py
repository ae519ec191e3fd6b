"""Records: each document version graph kept as a zstd-compressed N-Triples file, the exact record
of what the graph holds, read instead of the store where that pays (dumps, the view's removal of a
leaving version) and, later, instead of the named graph itself (issue 18: the current view stored
once, docs/store.md "Records").

A record is written while its graph is written, from the same N-Triples and with the graph's
very blank-node labels (the writer names them; Oxigraph's loaders would rename them), under a
temporary name; it is fsynced and renamed to a name no other write uses, `<store>/records/
<h[:2]>/<h>-<write id>.nt.zst` (h: the SHA-256 of the graph IRI), and the catalog update that
makes the version visible names it: `<graph> ft:record "<name>"`. The catalog and the records
thus change together. A write killed before its catalog update leaves a file no catalog entry
names (debris: `unnamed`, swept by the next writer); a reload of the same version names a new
file and the old one becomes unnamed. Readers trust a record only when the catalog names it,
and read the store otherwise (a store written before records, a test copy made by a backup).
Snapshots are Oxigraph backups, which leave the folder out: a reader of a snapshot reads the
files of the store the snapshot came from; a file removed since (a replaced record) sends it
back to its snapshot's graph.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pyoxigraph as ox
import zstandard

from fairtracks_ld.mapping.namespaces import FT

if TYPE_CHECKING:
    from fairtracks_ld.store import TrackStore

FOLDER = "records"
SUFFIX = ".nt.zst"
TEMPORARY = ".tmp"  # a record being written; `unnamed` counts it as debris
LEVEL = 3  # zstd level: a 20k-track version 237 MB → 9.7 MB (bench/results/layout-once-100000.md)
RECORD = FT + "record"
BLOCK = 4 << 20  # bytes of N-Triples a reader hands on at a time, cut at line ends
SNAPSHOTS = ".snapshots"  # store.snapshots.snapshot_dir: `<store>.snapshots/<n>`
# the only names a Writer gives: a name the catalog got otherwise (edited by hand or by a SPARQL
# Update) is not trusted, so no record can point outside the folder (`../…`)
NAME = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}-[0-9a-f]{16}" + re.escape(SUFFIX))


def folder(store_path: Path | str) -> Path:
    """The records folder of the store at `store_path`; a snapshot's is its primary store's."""
    path = Path(store_path)
    if path.parent.name.endswith(SNAPSHOTS):
        path = path.parent.with_name(path.parent.name.removesuffix(SNAPSHOTS))
    return path / FOLDER


class Writer:
    """One record being written: N-Triples compressed as they come into a temporary file in
    the records folder; `commit` makes it a record (fsync, rename) and returns its name,
    `discard` removes it."""

    def __init__(self, root: Path, graph: str) -> None:
        digest = hashlib.sha256(graph.encode()).hexdigest()
        self.name = f"{digest[:2]}/{digest}-{uuid.uuid4().hex[:16]}{SUFFIX}"
        self.path = root / self.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = self.path.with_name(self.path.name + TEMPORARY)
        self._file = open(self.temporary, "wb")  # noqa: SIM115  # closed by commit or discard
        self._out = zstandard.ZstdCompressor(level=LEVEL).stream_writer(self._file, closefd=False)

    def write(self, ntriples: bytes) -> int:
        """Add N-Triples lines (whole lines); file-like, so Oxigraph's dump can write here."""
        return self._out.write(ntriples)

    def flush(self) -> None:
        """Nothing to do before `commit` (Oxigraph's dump calls it)."""

    def sync(self) -> None:
        """Hand what was written so far to the file, decodable (a zstd block end): a version
        written stored once writes into the view before its catalog update, so a kill must
        leave in the file every line the store got (`unfinished_blocks`). Nothing to do once
        committed."""
        if self._file.closed:
            return
        self._out.flush(zstandard.FLUSH_BLOCK)
        self._file.flush()

    def close(self) -> None:
        """Close the temporary file and leave it (a write stopped by a full disk: the next
        writer's sweep reads it back, then removes it)."""
        if not self._file.closed:
            self._out.close()
            self._file.close()

    def commit(self) -> str:
        """Flush, fsync and rename into place; returns the name the catalog records."""
        self._out.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.temporary, self.path)
        _sync_folder(self.path.parent)
        return self.name

    def discard(self) -> None:
        """Remove what was written (committed or not): a refused or failed write."""
        if not self._file.closed:
            self._out.close()
            self._file.close()
        self.temporary.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


def _sync_folder(path: Path) -> None:
    """fsync a folder, so a rename in it survives a power cut."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def naming(store: TrackStore, names: dict[str, str]) -> str:
    """SPARQL update operations making the catalog name each graph's record (graph → name),
    replacing the name it had."""
    facts = " ".join(f"<{g}> <{RECORD}> {ox.Literal(n)} ." for g, n in names.items())
    return (f"{_unnaming(store, names)} ; INSERT DATA {{ GRAPH <{store.catalog}> {{ {facts} }} }}"
            if names else "")


def _unnaming(store: TrackStore, graphs: Iterable[str]) -> str:
    """SPARQL update operations making the catalog name no record for `graphs`."""
    return " ; ".join(f"DELETE WHERE {{ GRAPH <{store.catalog}> {{ <{g}> <{RECORD}> ?r }} }}"
                      for g in graphs)


def names(store: TrackStore) -> dict[str, str]:
    """Every record the catalog names (with a name a Writer gives, `NAME`): graph → name."""
    rows = store.ox.query(
        f"SELECT ?g ?r WHERE {{ GRAPH <{store.catalog}> {{ ?g <{RECORD}> ?r }} }}")
    return {row["g"].value: row["r"].value for row in rows if NAME.fullmatch(row["r"].value)}


def files(store: TrackStore) -> dict[str, Path]:
    """Every record the catalog names whose file is there: graph → file (none for a store
    without a folder of its own, in memory or behind an external endpoint)."""
    if store.path is None:
        return {}
    root = folder(store.path)
    return {g: root / name for g, name in names(store).items() if (root / name).is_file()}


def path_of(store: TrackStore, graph: str) -> Path | None:
    """The file of `graph`'s record, if the catalog names one and it is there."""
    if store.path is None:
        return None
    rows = list(store.ox.query(
        f"SELECT ?r WHERE {{ GRAPH <{store.catalog}> {{ <{graph}> <{RECORD}> ?r }} }}"))
    if not rows or not NAME.fullmatch(name := rows[0]["r"].value):
        return None
    path = folder(store.path) / name
    return path if path.is_file() else None


def blocks(path: Path, size: int = BLOCK) -> Iterator[bytes]:
    """A record's N-Triples, decompressed, in blocks of about `size` bytes cut at line ends."""
    with open(path, "rb") as raw:
        yield from _decompressed(raw, size)


def unfinished_blocks(store: TrackStore, graph: str, size: int = BLOCK) -> Iterator[bytes]:
    """The lines of `graph`'s records that no catalog entry names (a write killed or failed
    before its catalog update: temporary files, or files committed just before it), as far
    as they were synced; a frame cut by the kill ends them at its last whole line."""
    if store.path is None:
        return
    digest = hashlib.sha256(graph.encode()).hexdigest()
    root = folder(store.path)
    named = {root / name for name in names(store).values()}
    found = (root / digest[:2]).glob(f"{digest}-*{SUFFIX}*")
    for path in sorted(p for p in found if p not in named
                       and p.name.endswith((SUFFIX, SUFFIX + TEMPORARY))):
        with open(path, "rb") as raw, \
                zstandard.ZstdDecompressor().stream_reader(raw) as source:
            for block in cut(_UpToDamage(source), size):
                if whole := block[:block.rfind(b"\n") + 1]:  # a cut frame's last line goes
                    yield whole


class _UpToDamage:
    """A zstd stream read up to where a kill cut it (then it ends)."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source

    def read(self, size: int) -> bytes:
        try:
            return self.source.read(size)
        except zstandard.ZstdError:
            return b""


def _decompressed(raw: IO[bytes], size: int) -> Iterator[bytes]:
    with zstandard.ZstdDecompressor().stream_reader(raw) as source:
        yield from cut(source, size)


def graph_triples(store: TrackStore, graph: str, predicates: Collection[str] | None = None,
                  unread: Callable[[str], bool] | None = None) -> Iterator[ox.Triple | ox.Quad]:
    """A graph's triples (only those of `predicates`, when given; none of a predicate
    `unread` is true of), from its record where there is one: parsing it takes a seventh of
    the CPU of reading the store's index (a 20k-track version, 873k triples: 1.1 s instead of
    7.4), blank nodes keeping the store's labels; a line of a predicate left out is skipped
    before it is parsed. A record removed since its snapshot was taken (a replaced version)
    sends the reader to the store, as does a graph without a record. A backend's store
    (web/backend) reads its predicates' triples its own way (`triples_of`)."""
    remote = getattr(store.ox, "triples_of", None)  # a backend (web/backend): no records
    if remote is not None and predicates is not None and unread is None:
        yield from remote(graph, predicates)
        return
    wanted = None if predicates is None and unread is None else _PredicateTest(predicates,
                                                                               unread)
    path = path_of(store, graph)
    try:
        raw = open(path, "rb") if path is not None else None  # noqa: SIM115  # closed below
    except FileNotFoundError:
        raw = None
    if raw is None:  # a version stored once without its record: TrackStore.graph_quads
        named = store.ox.contains_named_graph(ox.NamedNode(graph))
        quads = store.graph_quads(graph) if predicates is None or not named else (
            quad for predicate in predicates for quad in store.ox.quads_for_pattern(
                None, ox.NamedNode(predicate), None, ox.NamedNode(graph)))
        yield from (quad for quad in quads if wanted is None or wanted.wants(quad.predicate.value))
        return
    with raw:
        for block in _decompressed(raw, BLOCK):
            if wanted is not None:
                block = wanted.lines_of(block)
            yield from ox.parse(block, format=ox.RdfFormat.N_TRIPLES, lenient=True)


class _PredicateTest:
    """Which N-Triples lines to parse, by their predicate (a line's second token: neither a
    subject nor an IRI holds a space), each predicate decided once."""

    def __init__(self, predicates: Collection[str] | None,
                 unread: Callable[[str], bool] | None) -> None:
        self.predicates = None if predicates is None else set(predicates)
        self.unread = unread
        self.decided: dict[bytes, bool] = {}

    def wants(self, iri: str) -> bool:
        return (self.predicates is None or iri in self.predicates) and \
            (self.unread is None or not self.unread(iri))

    def lines_of(self, block: bytes) -> bytes:
        kept = []
        decided = self.decided
        for line in block.splitlines(keepends=True):
            parts = line.split(b" ", 2)
            if len(parts) < 3:
                continue
            wanted = decided.get(parts[1])
            if wanted is None:
                wanted = decided[parts[1]] = self.wants(parts[1][1:-1].decode())
            if wanted:
                kept.append(line)
        return b"".join(kept)


def cut(source: IO[bytes], size: int = BLOCK) -> Iterator[bytes]:
    """The bytes of `source` in blocks of about `size`, each ending at a line end."""
    rest = b""
    while chunk := source.read(size):
        block = rest + chunk
        end = block.rfind(b"\n") + 1
        if end:
            yield block[:end]
        rest = block[end:]
    if rest:
        yield rest


def as_nquads(block: bytes, graph: str) -> bytes:
    """N-Triples lines (each ending ` .\\n`, as every writer here writes them; a literal holds
    no raw line break) as N-Quads lines of `graph`."""
    return block.replace(b" .\n", f" <{graph}> .\n".encode())


class AsQuads:
    """A file-like sink for N-Triples of one graph (Oxigraph's dump of it, a record) that
    writes the same lines as N-Quads in graph `name` on `out` (see `as_nquads`; a write may cut
    a line, whose start waits for the next). Counts the lines (the graph's triples)."""

    def __init__(self, out: IO[bytes], name: str) -> None:
        self.out, self.name = out, name
        self.tail = b""
        self.lines = 0

    def write(self, chunk: bytes) -> int:
        data = self.tail + bytes(chunk)
        end = data.rfind(b"\n") + 1
        self.tail = data[end:]
        self.lines += data.count(b"\n", 0, end)
        self.out.write(as_nquads(data[:end], self.name))
        return len(chunk)

    def flush(self) -> None:
        """Nothing to do: whole lines are written on at once (Oxigraph's dump calls it)."""


def triples(path: Path) -> int:
    """How many triples a record holds (its lines)."""
    return sum(block.count(b"\n") for block in blocks(path))


def write_from_store(store: TrackStore, graph: str) -> str:
    """Write `graph`'s record from what the store holds (Oxigraph's dump keeps blank-node
    labels) and make the catalog name it, its former file removed; returns its name. For
    stores written before records (`doctor --repair`)."""
    assert store.path is not None
    root = folder(store.path)
    before = path_of(store, graph)
    writer = Writer(root, graph)
    try:
        store.ox.dump(writer, ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph))
        name = writer.commit()
        store.ox.update(naming(store, {graph: name}))
    except BaseException:
        writer.discard()
        raise
    if before is not None:
        before.unlink(missing_ok=True)
    return name


def forget(store: TrackStore, graphs: Iterable[str]) -> None:
    """Make the catalog name no record for `graphs` (e.g. the companions of an
    earlier layout, dropped), then remove their files."""
    graphs = list(graphs)
    paths = [p for g in graphs if (p := path_of(store, g)) is not None]
    if graphs:
        store.ox.update(_unnaming(store, graphs))
    for path in paths:
        path.unlink(missing_ok=True)


def unnamed(store: TrackStore) -> list[Path]:
    """Files in the records folder no catalog entry names: records of killed or refused writes,
    replaced records, temporary files (only a writer holding the lock may remove them)."""
    if store.path is None or not (root := folder(store.path)).is_dir():
        return []
    named = {root / name for name in names(store).values()}
    return sorted(p for p in root.glob("*/*") if p.is_file() and p not in named)

