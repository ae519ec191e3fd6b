"""A big document validated in bounded windows of memory stores, with the report that
validating it whole gives.

A load copies the chunks it writes into a memory store, whose queries cost about a third of
the disk store's; a document past `writing.MIRROR_BYTES` of N-Triples is copied in windows of
that size, each validated when full, then refilled. Each window holds the header chunk (the
document node, doc_info, collection_info: what the shapes' targets walk from, what references
to the collection or the document reach) and whole entities: an entity and the nodes nested in
it are in one chunk, with the document's link to it. What keeps the report whole-document:

- a result on an entity's node is kept from the window that holds the entity; on a node of the
  header (in every window) from the last window, to which the document's first link to each
  entity array held elsewhere is added, so that the document node's counts (`minItems` of an
  array) see the whole document; a result on one of the document's links to an entity, from
  the window holding that entity; a result on a node outside the document, once;
- a reference to an entity an earlier window held is accepted in the window, which gets a
  record of it (`_add_held`); a reference result (`*_ref` naming no entity of its class in
  the window or before it) is deferred without its finding until the whole graph is written,
  then looked up again: among the entities the windows held (a later window's), else in the
  written graph; deferred results are spooled to a temporary file (`_Deferred`): a document
  whose experiments all come before their samples defers one per experiment (~400k at 1M
  tracks, ~0.75 KB each in memory);
- local_ids are unique within the document by the mapping (mapping/unique.py); uniqueness and
  references across documents, ontology ancestry and status, and CURIE prefixes come from
  context facts that depend only on what a window holds (context.py), added to each window.

This holds for the shipped shapes, whose rules were read for it (`applies`): no other
cross-entity rule (no sh:class, no nested shapes, no rule reading through a reference).
"""

from __future__ import annotations

import hashlib
import heapq
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from itertools import islice
from operator import itemgetter
from typing import IO, TYPE_CHECKING

import pyoxigraph as ox

from fairtracks_ld.mapping.models import ENSEMBL
from fairtracks_ld.mapping.namespaces import FT, RDF
from fairtracks_ld.mapping.prepare import Prepared
from fairtracks_ld.sources import DocumentReader
from fairtracks_ld.standard import ENTITY_ARRAYS, iter_props
from fairtracks_ld.validation import presentation
from fairtracks_ld.validation.context import add_context
from fairtracks_ld.validation.documents import (
    RDF_FIRST,
    DocumentReport,
    Finding,
    Validator,
    listed_entities,
    presented,
)
from fairtracks_ld.validation.engine import SPARQL_COMPONENT, validate
from fairtracks_ld.validation.graphs import DataGraph
from fairtracks_ld.validation.pointers import PointerResolver
from fairtracks_ld.validation.report import Report, ValidationResult
from fairtracks_ld.validation.shapes import default_shapes
from fairtracks_ld.validation.vocab import ENTITY, ENTITY_CLASS

if TYPE_CHECKING:
    from fairtracks_ld.validation.shapes import PropertyPath

_ARRAY_LINKS = tuple(ox.NamedNode(FT + key) for key in ENTITY_ARRAYS)
_TYPE = ox.NamedNode(RDF + "type")


@cache
def _referenced_classes() -> dict[str, ox.NamedNode]:
    """Each reference predicate → the class of what it names (`ft:experiment_ref` →
    `ft:Experiment`)."""
    return {FT + prop.key: ox.NamedNode(FT + prop.ref_target.capitalize())
            for _, prop in iter_props() if prop.kind == "ref" and prop.ref_target}


class Windows:
    """One document's windows: each validated as it comes (`add`), the last one with the
    report (`finish`)."""

    def __init__(self, validator: Validator, prepared: Prepared, source: str,
                 reader: DocumentReader, written: ox.Store,
                 written_graph: DataGraph | None = None) -> None:
        """`written`: the store the document's graph is being written to, where references
        to entities of other windows are looked up, in `written_graph` (default: the version
        graph; the default graph for a version written stored once, store/members.py)."""
        self.validator, self.prepared, self.source, self.reader = (validator, prepared, source,
                                                                   reader)
        self.written, self.written_graph = written, written_graph
        self.document = ox.NamedNode(prepared.document_iri)
        self.header = (prepared.document_iri, prepared.collection_iri)
        self.entities = prepared.collection_iri + "/"
        # the results kept, in order, with their findings; a reference to an entity not yet
        # written has none until `finish` knows whether the entity is in the document (most
        # such references are deferred instead, out of memory)
        self.kept: list[tuple[ValidationResult, Finding | None]] = []
        self.deferred = _Deferred()
        self.pointers: dict[str, str | None] = {}  # entity → pointer, of those results name
        self.links: dict[ox.NamedNode, ox.NamedNode | ox.BlankNode] = {}  # first per array
        self.outside: set[tuple] = set()  # results on nodes outside the document
        # the entities earlier windows held, of the classes references name: 16-byte digests of
        # (class, IRI), about 80 bytes each in the set (`_add_held`)
        self.held: set[bytes] = set()
        self.count = 0  # windows validated

    @property
    def applies(self) -> bool:
        """Whether windows give the whole document's report: the shipped shapes, read for it
        (see the module's docstring), on a FAIRtracks document."""
        shapes = self.validator.shapes_for(self.prepared.model)
        return self.prepared.model != ENSEMBL and shapes is default_shapes()

    def add(self, data: ox.Store, graph: str) -> None:
        """Validate a window that is not the last (`data`: a memory store holding it in
        `graph`, which this may change)."""
        node = ox.NamedNode(graph)
        for link in _ARRAY_LINKS:
            if link not in self.links:
                for quad in islice(data.quads_for_pattern(self.document, link, None, node), 1):
                    self.links[link] = quad.object
        self._validate(data, node, last=False)

    def finish(self, data: ox.Store, graph: str) -> DocumentReport:
        """Validate the last window and give the document's report, now that the whole graph
        is written."""
        node = ox.NamedNode(graph)
        for link, target in self.links.items():  # the document's arrays, for its counts
            if not any(True for _ in islice(data.quads_for_pattern(self.document, link, None,
                                                                   node), 1)):
                data.add(ox.Quad(self.document, link, target, node))
        self._validate(data, node, last=True)
        written = self.written_graph or node
        on_disk = PointerResolver(self.written, self.prepared, None, written, self.pointers)
        shapes = self.validator.shapes_for(self.prepared.model)
        kept = [(r, f if f is not None else self.validator.finding(r, on_disk, self.written,
                                                                   written, shapes))
                for r, f in self._in_order(written)
                if f is not None or not self._resolved(r, node)]
        self.deferred.close()
        resolver = PointerResolver(data, self.prepared, None, node, self.pointers)
        listed = [r for r, _ in kept if _listed(r.path)]
        if listed:  # list items' indexes, read from the source again
            resolver.document = listed_entities(self.reader, resolver, listed)
            for result, finding in kept:
                if _listed(result.path):
                    literal = result.value if isinstance(result.value, ox.Literal) else None
                    finding.pointer = resolver.pointer(result.focus.value, result.path, literal)
        findings = [f for _, f in kept]
        document = resolver.document
        if document is None and (arrays := presentation.wanted(findings)):
            document = self.reader.pick(arrays, frozenset(ENTITY_ARRAYS))
        variant = self.prepared.variant
        findings = presented(findings, document, variant)
        return DocumentReport(self.source, findings, variant, self.prepared.graph,
                              Report([r for r, _ in kept]))

    def _validate(self, data: ox.Store, node: ox.NamedNode, last: bool) -> None:
        """Run the shapes on one window with its context facts; keep the results it owns,
        as findings (list items' pointers are completed by `finish`)."""
        validator = self.validator
        shapes = validator.shapes_for(self.prepared.model)
        add_context([self.prepared], data, node, shapes, validator.store, validator.ontologies)
        self._add_held(data, node)
        report = validate(data, shapes, [node], scratch=True, time_limit=validator.time_limit)
        resolver = PointerResolver(data, self.prepared, None, node, self.pointers)
        for result in report.results:
            if not self._owned(result, data, node, last):
                continue
            if _referenced_class(result) is None:
                self.kept.append((result, validator.finding(result, resolver, data, node,
                                                            shapes)))
            elif not self.deferred.add(result, len(self.kept)):  # perhaps in a later window
                self.kept.append((result, None))
        self._hold(data, node)
        self.count += 1

    def _add_held(self, data: ox.Store, node: ox.NamedNode) -> None:
        """Add to the window a record (`fts:entity`, `fts:entityClass`) of each entity of the
        document it references that an earlier window held: the reference rules accept it,
        as they accept another document's stored entity, instead of reporting the reference
        to be deferred and dropped (a track window of a 100k-track document reported each of
        its tracks' experiment_ref). Read from memory (`held`): a lookup on disk cost ~60 µs
        while the load's writes went on."""
        classes = _referenced_classes()
        lines = []
        for target, predicate in data.query(
                f"SELECT DISTINCT ?t ?p WHERE {{ GRAPH {node} {{ ?s ?p ?t "
                f"FILTER(isIRI(?t)) FILTER NOT EXISTS {{ ?t a ?c }} }} "
                f"VALUES ?p {{ {' '.join(map(str, _referenced_classes_by_predicate()))} }} }}"):
            cls = classes[predicate.value]
            if _held_key(cls.value, target.value) in self.held:
                lines.append(f"_:w{len(lines)} <{ENTITY}> {target} ; <{ENTITY_CLASS}> {cls} .\n")
        if lines:
            data.load("".join(lines).encode(), format=ox.RdfFormat.TURTLE, to_graph=node)

    def _hold(self, data: ox.Store, node: ox.NamedNode) -> None:
        """Note the entities of the classes references name that this window holds (all
        written to the graph: a later window's references to them are the document's)."""
        classes = " ".join(map(str, set(_referenced_classes().values())))
        for entity, cls in data.query(
                f"SELECT ?e ?c WHERE {{ GRAPH {node} {{ ?e a ?c }} VALUES ?c {{ {classes} }} }}"):
            if isinstance(entity, ox.NamedNode):
                self.held.add(_held_key(cls.value, entity.value))

    def _in_order(self, written: DataGraph) -> Iterator[tuple[ValidationResult,
                                                              Finding | None]]:
        """The kept results with the deferred ones back in their places (a result deferred
        at `position` comes before the kept result of that index; merge keeps ties in order)."""
        kept = ((index, 1, item) for index, item in enumerate(self.kept))
        deferred = ((position, 0, (result, None))
                    for position, result in self.deferred.results(
                        lambda value, path: self._written_since(value, path, written)))
        return (item for *_, item in heapq.merge(deferred, kept, key=itemgetter(0, 1)))

    def _written_since(self, value: str, path: PropertyPath | None,
                       written: DataGraph) -> bool:
        """Whether a deferred reference names an entity of its class that the whole graph,
        now written, has (read before its result is made: most are)."""
        cls = _referenced_classes().get(path.iri or "") if path is not None else None
        return cls is not None and self._has(ox.NamedNode(value), cls, written)

    def _owned(self, result: ValidationResult, data: ox.Store, node: ox.NamedNode,
               last: bool) -> bool:
        """Whether a window's result is the one the whole document has (see the module's
        docstring), and not a partial view of another window's."""
        focus = result.focus
        if focus == self.document:
            value = result.value
            if value is not None and self._entity(value):  # a link to an entity
                return _holds(data, value, node)
            return last
        if isinstance(focus, ox.NamedNode) and focus.value.partition("#")[0] in self.header:
            return last
        if self._entity(focus):
            return _holds(data, focus, node)
        identity = (result.key(), str(result.source_shape), result.message)
        if identity in self.outside:
            return False
        self.outside.add(identity)
        return True

    def _resolved(self, result: ValidationResult, node: ox.NamedNode) -> bool:
        """Whether a reference result names an entity of the document after all, written in
        another window (once there, it stays)."""
        cls = _referenced_class(result)
        return cls is not None and self._has(result.value, cls, self.written_graph or node)

    def _has(self, entity: ox.NamedNode, cls: ox.NamedNode, written: DataGraph) -> bool:
        """Whether the graph written has `entity` of class `cls`: a window held it (all
        written), else a point lookup (~6 µs on a quiet store, ~60 µs while it merges; at 1M
        tracks ~400k deferred references name a later window's sample)."""
        return _held_key(cls.value, entity.value) in self.held or \
            ox.Quad(entity, _TYPE, cls, written) in self.written

    def _entity(self, term: ox.NamedNode | ox.BlankNode | ox.Literal) -> bool:
        """Whether `term` is a node of one of the document's entities (or a blank node)."""
        if isinstance(term, ox.BlankNode):
            return True
        return isinstance(term, ox.NamedNode) and term.value.startswith(self.entities) \
            and term.value.partition("#")[0] not in self.header


class _Deferred:
    """Reference results deferred to `finish`, spooled to a temporary file: a line per result
    (its place among the kept results, its kind, focus and value IRIs; an IRI holds no tab or
    line break), what the results share (path, shape, message, …) once per kind."""

    def __init__(self) -> None:
        self.kinds: dict[tuple, int] = {}
        self.spool: IO[bytes] | None = None

    def add(self, result: ValidationResult, position: int) -> bool:
        """Defer `result`, which comes after the first `position` kept results; False when
        it cannot be written as a line (a blank node): the caller keeps it."""
        if not isinstance(result.focus, ox.NamedNode) or \
                not isinstance(result.value, ox.NamedNode):
            return False
        kind = (result.path, result.component, result.severity, result.source_shape,
                result.message)
        number = self.kinds.setdefault(kind, len(self.kinds))
        if self.spool is None:
            self.spool = tempfile.TemporaryFile()  # noqa: SIM115  # closed by `close`
        self.spool.write(f"{position}\t{number}\t{result.focus.value}\t"
                         f"{result.value.value}\n".encode())
        return True

    def results(self, dropped: Callable[[str, PropertyPath | None], bool]
                ) -> Iterator[tuple[int, ValidationResult]]:
        """The deferred results with their places, in the order they were deferred, less
        those `dropped` (value, path) says to drop."""
        if self.spool is None:
            return
        kinds = list(self.kinds)
        self.spool.seek(0)
        for line in self.spool:
            position, number, focus, value = line.decode().rstrip("\n").split("\t")
            path, component, severity, shape, message = kinds[int(number)]
            if dropped(value, path):
                continue
            yield int(position), ValidationResult(ox.NamedNode(focus), path, ox.NamedNode(value),
                                                  component, severity, shape, message)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None


def _holds(data: ox.Store, subject: ox.NamedNode | ox.BlankNode, node: ox.NamedNode) -> bool:
    """Whether the window holds triples of `subject` (an entity is in one window)."""
    return any(True for _ in islice(data.quads_for_pattern(subject, None, None, node), 1))


def _held_key(cls: str, iri: str) -> bytes:
    """What `Windows.held` keeps of an entity (a digest: no two of a document's meet)."""
    return hashlib.blake2b(f"{cls}\t{iri}".encode(), digest_size=16).digest()


@cache
def _referenced_classes_by_predicate() -> tuple[ox.NamedNode, ...]:
    """The reference predicates (`ft:experiment_ref`, …)."""
    return tuple(ox.NamedNode(iri) for iri in _referenced_classes())


def _referenced_class(result: ValidationResult) -> ox.NamedNode | None:
    """The class a reference result's value should have (None: not a reference result)."""
    path = result.path
    if result.component != SPARQL_COMPONENT or path is None or path.kind != "iri" \
            or not isinstance(result.value, ox.NamedNode):
        return None
    return _referenced_classes().get(path.iri or "")


def _listed(path: PropertyPath | None) -> bool:
    """Whether a result's path ends in a list item (its index is read from the source)."""
    return path is not None and any(item.kind == "iri" and item.iri == RDF_FIRST
                                    for item in path.items)
