"""One source mapped entity by entity: N-Triples in chunks of bounded size, never the whole tree.

A FAIRtracks document is read with `DocumentReader.members`: the header (collection_info,
doc_info, @schema, …) gives the IRIs and the version graph, then each item of the entity arrays
(studies, experiments, samples, tracks) is mapped on its own (a JSON-LD node) and gathered into
chunks of about `chunk_bytes` of JSON-LD, each written as N-Triples (`emit`, by the published
context), which the store loads one by one into the version graph. When the header does not
come before the arrays (or doc_version is missing, so the version is a content hash), a first
pass reads the header and hashes the rest, and a second pass maps. Memory holds one chunk, a
compact index of local_ids per array (`unique.SeenIds`) and the notes. A document without
entity arrays (an Ensembl track, a FAIRtracks stub) is mapped whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from queue import Empty, Full, Queue
from threading import Event, Thread
from typing import Any, TypeVar

import pyoxigraph as ox

from fairtracks_ld.mapping.context import IRI_SUFFIX, load_context, term_name
from fairtracks_ld.mapping.emit import CompiledContext, Writer, compile_context
from fairtracks_ld.mapping.models import AUTO, ENSEMBL, FAIRTRACKS, detect, prepare_document
from fairtracks_ld.mapping.prepare import ContentHash, Mapper, MappingError, Prepared, encode
from fairtracks_ld.sources import DocumentError, DocumentReader, LazyArray, RefusedDocument
from fairtracks_ld.standard import ENTITY_ARRAYS, ONTOLOGY_TERM_CLASS, Variant

LAZY = frozenset(ENTITY_ARRAYS)
CHUNK_BYTES = 16 << 20  # JSON-LD size of a chunk's nodes: ~10k tracks, ~500k quads
FORMAT = ox.RdfFormat.N_TRIPLES  # what `chunks` yields (loaded with `to_graph`)
T = TypeVar("T")


class Chunk(bytes):
    """A chunk's N-Triples, saying whether it holds items of an entity array (`array`, its key)
    or the document's own members (None): a big document is validated in windows, each holding
    the header chunk and whole entities (writing.MIRROR_BYTES), which only this tells apart."""

    array: str | None = None

    @classmethod
    def of(cls, text: bytes, array: str | None = None) -> Chunk:
        chunk = cls(text)
        chunk.array = array
        return chunk


def _ready(header: dict[str, Any]) -> bool:
    """Whether the header seen so far gives every IRI (so mapping can start in one pass)."""
    info = header.get("doc_info")
    return "@schema" in header and "collection_info" in header and isinstance(info, dict) \
        and isinstance(info.get("doc_version"), str) and bool(info["doc_version"])


class MemoryReader:
    """A parsed document, read the way `DocumentStream` reads a source (the validation service
    has the document in memory already): entity arrays come item by item."""

    def __init__(self, source: str, document: Any) -> None:
        self.source = source
        self.document = document

    def error(self, message: str) -> DocumentError:
        return DocumentError(self.source, message)

    def read(self) -> Any:
        return self.document

    def members(self, lazy: frozenset[str] = frozenset()) -> Iterator[tuple[str, Any]]:
        if not isinstance(self.document, dict):
            yield "", self.document
            return
        for key, value in self.document.items():
            yield key, _Items(value) if key in lazy and isinstance(value, list) else value


class _Items(LazyArray):
    """The items of an array already in memory, as a LazyArray."""

    def __init__(self, items: list[Any]) -> None:  # not LazyArray's: no parser events here
        self.items = items
        self.done = True

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)


class DocumentStream:
    """A source being mapped: `prepared` (IRIs, graph, version, notes so far; its node is the
    header's) up front, `chunks()` the N-Triples (`FORMAT`) to load into its graph."""

    def __init__(self, reader: DocumentReader | MemoryReader, base: str,
                 variant: Variant | None = None, model: str = AUTO,
                 chunk_bytes: int | None = None, ahead: int = 0, links: bool = True) -> None:
        self.reader = reader
        self.links = links  # False: no `<key>_iri` link triples nor rdf:type of ontology
        # annotations (the validation service: the shipped shapes read neither)
        self.ahead = ahead
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self.model = model
        self.keys: list[str] = []
        self._whole: Prepared | None = None
        self._mapper: Mapper | None = None
        self._members: Iterator[tuple[str, Any]] = iter(())
        self._skip: set[str] = set()
        self.prepared = self._start(base, variant)

    def _start(self, base: str, variant: Variant | None) -> Prepared:
        members = self.reader.members(LAZY if self.model != ENSEMBL else frozenset())
        header: dict[str, Any] = {}
        first: tuple[str, LazyArray] | None = None
        for key, value in members:
            if isinstance(value, LazyArray):
                first = (key, value)
                break
            header[key] = value
        model = self.model
        if first is None or (model == AUTO and self._detect([*header, first[0]]) != FAIRTRACKS):
            if first is None:  # nothing to stream: the whole document is in `header`
                document = header[""] if list(header) == [""] else header
            else:
                members.close()
                document = self.reader.read()
            self._whole = self._map(lambda: prepare_document(document, base, model, variant))
            return self._whole
        digest = None
        if _ready(header):
            self._members = _chain(first, members)
        else:  # a first pass for the header (and the content hash when doc_version is missing)
            members.close()
            header, digest = self._header_pass()
            self._skip = set(header)
            self._members = self.reader.members(LAZY)
        self._mapper = self._map(lambda: Mapper(header, base, variant, digest))
        self.keys = list(header)
        return self._mapper.prepared

    def _header_pass(self) -> tuple[dict[str, Any], str | None]:
        header: dict[str, Any] = {}
        hashed = ContentHash()
        for key, value in self.reader.members(LAZY):
            if isinstance(value, LazyArray):
                hashed.items(key, value)
            else:
                header[key] = value
                hashed.member(key, value)
        return header, None if _ready(header) else hashed.hexdigest()

    def _detect(self, keys: list[str]) -> str:
        return self._map(lambda: detect(dict.fromkeys(keys)))

    def _map(self, make: Callable[[], T]) -> T:
        try:
            return make()
        except MappingError as error:
            raise RefusedDocument.of(self.reader.error(str(error))) from error

    def chunks(self) -> Iterator[bytes]:
        """UTF-8 N-Triples chunks, for the graph the caller loads them into; a problem found on
        the way is a DocumentError (the caller removes what it wrote)."""
        chunks = self._chunks()
        try:
            yield from prefetch(chunks, self.ahead) if self.ahead else chunks
        except MappingError as error:
            raise RefusedDocument.of(self.reader.error(str(error))) from error

    def _chunks(self) -> Iterator[bytes]:
        if self._whole is not None:
            yield from WholeDocument(self._whole).chunks()
            return
        mapper = self._mapper
        assert mapper is not None
        context = compile_context(load_context()) if self.links else compile_context(
            load_context(), IRI_SUFFIX, frozenset({ONTOLOGY_TERM_CLASS}))
        yield self._encode(context, mapper.prepared.node)
        for key, value in self._members:
            if key in self._skip:
                continue
            self.keys.append(key)
            if not isinstance(value, LazyArray):
                yield self._encode(context, mapper.members({key: value}))
                continue
            nodes: list[dict[str, Any]] = []
            per_node = 1
            for index, item in enumerate(value):
                node = mapper.entity(key, item, index)
                if not nodes:  # the chunk's size, estimated from its first node
                    per_node = len(json.dumps(node, ensure_ascii=False)) + 2
                nodes.append(node)
                if len(nodes) * per_node >= self.chunk_bytes:
                    yield self._chunk(context, mapper.document_iri, key, nodes)
                    nodes = []
            if nodes:
                yield self._chunk(context, mapper.document_iri, key, nodes)
        if self.model == AUTO:
            detect(dict.fromkeys(self.keys))

    def _chunk(self, context: CompiledContext, document: str, key: str,
               nodes: list[dict[str, Any]]) -> Chunk:
        return Chunk.of(self._encode(context, {"@id": document, term_name(key): nodes}), key)

    def _encode(self, context: CompiledContext, node: dict[str, Any]) -> bytes:
        """A JSON-LD node (and the nodes in it) as N-Triples."""
        writer = Writer(context)
        writer.node(node)
        try:
            return encode(writer.text())
        except MappingError as error:  # text that is not Unicode: a source that cannot be read
            raise self.reader.error(error.message) from None


class WholeDocument:
    """A document mapped whole (a `Prepared`), written as one chunk of N-Triples."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared

    def chunks(self) -> Iterator[bytes]:
        yield self.prepared.ntriples()


def _chain(first: tuple[str, Any], rest: Iterator[tuple[str, Any]]
           ) -> Iterator[tuple[str, Any]]:
    yield first
    yield from rest


def prefetch(items: Iterator[T], depth: int) -> Iterator[T]:
    """`items` made in a worker thread, at most `depth` ahead (memory stays bounded); the
    worker's exceptions are raised here, and closing this generator stops the worker."""
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)
    stop = Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put((True, item), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put((False, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            queue.put((False, error))

    worker = Thread(target=work, daemon=True)
    worker.start()
    try:
        while True:
            more, item = queue.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # let it see `stop` (it may be blocked on a full queue)
            try:
                queue.get_nowait()
            except Empty:
                worker.join(0.05)
