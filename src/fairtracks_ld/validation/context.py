"""The data graph a document is validated as: its triples plus what the rules need to know.

Validation runs on the document's version graph as written, before the catalog makes it visible
(or in a scratch store on disk for `validate`), with these facts added to it for the run:
- the document's quads (its version graph, as the mapping makes them);
- a context graph of facts read from the store and the ontologies, only those the document's
  rules can reach: for every ontology term it uses and every term the shapes name, the named
  ontologies that declare it (`rdfs:isDefinedBy`), `ft:descends_from`, `owl:deprecated`,
  `obo:IAO_0100001`; the status of each ontology the shapes name, and which of them imports
  which (`fts:imports`: EFO imports CL and UBERON); `fts:StoredEntity` records of
  entities of the store's current view in other documents that share a local_id with the
  document or that it references; the offline CURIE prefix table.

The queries are set-based (VALUES over the document's terms and ids), so a large document costs
a few index lookups per distinct value. The facts are removed from the version graph after
the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyoxigraph as ox

from fairtracks_ld import memo
from fairtracks_ld.mapping.namespaces import FT, OWL, RDF
from fairtracks_ld.mapping.prepare import Prepared
from fairtracks_ld.standard import iter_props
from fairtracks_ld.validation import registry
from fairtracks_ld.validation.graphs import DataGraph, in_graph
from fairtracks_ld.validation.shapes import ShapesGraph, default_shapes
from fairtracks_ld.validation.vocab import (
    ANCESTOR,
    COMPLETE,
    DEPRECATED,
    DESCENDS_FROM,
    DOCUMENT,
    ENTITY,
    ENTITY_CLASS,
    IMPORTS,
    IS_DEFINED_BY,
    MISSING,
    ONTOLOGY,
    PARTIAL,
    REPLACED_BY,
    SKOS,
    STATUS,
    STORED_ENTITY,
)

if TYPE_CHECKING:
    from fairtracks_ld.store import TrackStore

T = TypeVar("T")
MINTED_VERSIONS = "https://w3id.org/fairtracks-ld/ontologies/"  # subsets fairtracks-ld built
UNIQUE_CLASSES = tuple(FT + c for c in ("DocumentInfo", "Collection", "Study", "Experiment",
                                        "Sample", "Track"))
# Ontologies a schema ontology imports, among those the schemas name: EFO imports CL and UBERON
# (a CL cell type is a class of efo.owl, as the FAIRtracks validator, which reads the whole EFO,
# sees it), but the bundled EFO holds only EFO-namespace classes: CL and UBERON terms are found
# in their own graphs, and count for EFO through `fts:imports`.
ONTOLOGY_IMPORTS = {
    "http://www.ebi.ac.uk/efo/efo.owl": ("http://purl.obolibrary.org/obo/cl.owl",
                                         "http://purl.obolibrary.org/obo/uberon.owl"),
}
_SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
_EQUIVALENT = OWL + "equivalentClass"


@dataclass(frozen=True)
class OntologySource:
    """Ontology graphs to read facts from: graph IRI → the IRI the schemas name it by.

    `opened`: the store holding them, or what opens it when it is first needed (the shipped
    bundle, read only when a term's facts are not in its `memo`)."""

    opened: ox.Store | Callable[[], ox.Store]
    graphs: dict[str, str]
    partial: frozenset[str]  # graphs that hold only part of their ontology
    closure: str | None  # a graph of ft:descends_from, if materialised
    # what has been read from these graphs, kept for the next documents (`_reader`): the
    # source is made anew for each snapshot, so a new snapshot starts afresh
    kept: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # the answers of `_Reader` kept between processes (only for sources whose content a hash
    # names: the shipped bundle)
    memo: memo.Memo | None = field(default=None, compare=False, repr=False)

    @cached_property
    def store(self) -> ox.Store:
        return self.opened if isinstance(self.opened, ox.Store) else self.opened()


@cache
def _graph_iri(graph: ox.NamedNode | ox.BlankNode | ox.DefaultGraph) -> str:
    """A named graph's IRI; "" for the default graph (the merged current view, which names no
    source)."""
    return graph.value if isinstance(graph, ox.NamedNode) else ""


def _schema_names() -> dict[str, str]:
    """Bundle module IRI → the ontology IRI the schemas use (`cl-basic.owl` → `cl.owl`)."""
    from fairtracks_ld.ontology import Manifest, default_bundle_dir

    manifest = Manifest.load(default_bundle_dir())
    return {m.ontology_iri: m.schema_ontology_iri or m.ontology_iri for m in manifest.modules}


def store_ontologies(store: TrackStore) -> OntologySource | None:
    """The ontologies loaded in a store (None when it has none)."""
    infos = store.ontologies()
    if not infos:
        return None
    names = _schema_names()
    closure = store.base + "graph/closure"
    return OntologySource(
        store.ox,
        {info.graph: names.get(info.graph, info.graph) for info in infos},
        frozenset(i.graph for i in infos if (i.version_iri or "").startswith(MINTED_VERSIONS)),
        closure if store.has_graph(closure) else None,
    )


@cache
def bundled_ontologies() -> OntologySource:
    """The shipped bundle (no closure: computed), read into a memory store once per process
    when first needed: the facts of terms looked up before, by any process, come from its
    memo (`fairtracks_ld.memo`) under a hash of the bundle, this module and Oxigraph's
    version, so a document whose terms were all seen before never reads it."""
    from fairtracks_ld.ontology import default_bundle_dir, load_bundle_modules, open_module

    folder = default_bundle_dir()
    modules = load_bundle_modules(folder)  # checked against the manifest's hashes
    names = _schema_names()
    graphs, partial = {}, set()
    for module in modules:
        graphs[module.ontology_iri] = names.get(module.ontology_iri, module.ontology_iri)
        if (module.version_iri or "").startswith(MINTED_VERSIONS):
            partial.add(module.ontology_iri)

    def read() -> ox.Store:
        store = ox.Store()
        for module in modules:
            with open_module(module.path) as turtle:
                store.bulk_load(turtle.read(), format=ox.RdfFormat.TURTLE,
                                to_graph=ox.NamedNode(module.ontology_iri))
        return store

    key = memo.fingerprint(folder / "manifest.json", Path(__file__), ox.__version__)
    return OntologySource(read, graphs, frozenset(partial), None,
                          memo=memo.Memo("ontology-facts", key))


def _values(iris: Iterable[str]) -> str:
    return " ".join(f"<{i}>" for i in iris)


def _nt(subject: str, predicate: str, obj: str) -> str:
    return f"{subject} <{predicate}> {obj} .\n"


def shape_names(shapes: ShapesGraph) -> tuple[set[str], set[str]]:
    """Ontologies and ontology terms the shapes name (their `fts:` annotations)."""
    ontologies, ancestors = set(), set()
    for predicates in shapes.index.values():
        ontologies.update(t.value for t in predicates.get(ONTOLOGY, []))
        ancestors.update(t.value for t in predicates.get(ANCESTOR, []))
    return ontologies, ancestors


def ontology_facts(source: OntologySource | None, terms: set[str], ontologies: set[str],
                   ancestors: set[str], named_descent: bool = False) -> list[str]:
    """N-Triples lines of what the ontology rules read about `terms` and `ancestors`
    (`named_descent`: of a term's descent, only that from `ancestors` and their replacements,
    all that the shipped shapes read: a tenth of the lines).

    Read with direct index lookups per term (a document uses a few thousand distinct terms at
    most), which is much faster here than SPARQL over large VALUES blocks.
    """
    lines = []
    imported = {i for o in ontologies for i in ONTOLOGY_IMPORTS.get(o, ())}
    for ontology in sorted(ontologies):
        lines += [_nt(f"<{ontology}>", IMPORTS, f"<{i}>")
                  for i in ONTOLOGY_IMPORTS.get(ontology, ())]
    for ontology in sorted(ontologies | imported):
        graphs = [g for g, name in (source.graphs.items() if source else ()) if name == ontology]
        status = MISSING if not graphs else (
            PARTIAL if all(g in source.partial for g in graphs) else COMPLETE)  # type: ignore[union-attr]
        lines.append(_nt(f"<{ontology}>", STATUS, f"<{status}>"))
    if source is None:
        return lines
    reader = _reader(source)
    replacements = set()
    for term in sorted(terms | ancestors):
        for predicate, obj in reader.annotations(term):
            lines.append(_nt(f"<{term}>", predicate, obj))
            if predicate == REPLACED_BY and term in ancestors:
                replacements.add(obj[1:-1])
    for term in sorted(terms | ancestors | replacements):
        lines.append(reader.defined_by_lines(term))
    if not named_descent:
        for term in sorted(terms):
            lines.append(reader.descends_lines(term))
        reader.save()
        return lines
    named = ancestors | replacements
    for term in sorted(terms):
        lines += [_nt(f"<{term}>", DESCENDS_FROM, f"<{a}>")
                  for a in sorted(reader.descends_from(term) & named)]
    reader.save()
    return lines


def prepare(source: OntologySource) -> None:
    """Read what every document's facts draw on once, ahead of the documents (a validation
    service's worker, per snapshot): the parent links of all classes, so that a term's
    ancestors are a walk in memory instead of index lookups per ancestor. Not worth it for
    one document (the command line reads only the terms it uses), nor with a closure graph
    (a term's ancestors are one lookup there)."""
    if source.closure is None:
        _reader(source).parent_map()


def _reader(source: OntologySource) -> _Reader:
    """The source's reader, kept with it: a term's facts are read once per source."""
    reader = source.kept.get("reader")
    if reader is None:
        reader = source.kept["reader"] = _Reader(source)
    return reader


KEPT_TERMS = 100_000  # terms whose facts a source keeps (a few MB); past it, read each time


class _Reader:
    """Index lookups on the ontology graphs; ancestor sets and each term's facts memoised
    (up to `KEPT_TERMS` terms each), the parent links of all classes once `parent_map` read
    them. A source with a `memo` keeps each term's answers there too, for later processes,
    and opens its store only for a term the memo does not know."""

    def __init__(self, source: OntologySource) -> None:
        self.source = source
        self.memo = source.memo
        self.graphs = {g: ox.NamedNode(g) for g in source.graphs}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._annotations: dict[str, list[tuple[str, str]]] = {}
        self._defined_lines: dict[str, str] = {}
        self._descends_lines: dict[str, str] = {}
        self._parent_map: dict[str, frozenset[str]] | None = None

    @property
    def store(self) -> ox.Store:
        return self.source.store

    def save(self) -> None:
        """Keep the answers read from the store for later processes."""
        if self.memo is not None:
            self.memo.save()

    def _remembered(self, table: str, term: str, read: Callable[[str], T],
                    encode: Callable[[T], Any], decode: Callable[[Any], T]) -> T:
        """`read(term)`, or its answer in the memo (where it is then kept)."""
        if self.memo is None:
            return read(term)
        if self.memo.has(table, term):
            return decode(self.memo.get(table, term))
        found = read(term)
        self.memo.put(table, term, encode(found))
        return found

    @staticmethod
    def _kept(table: dict[str, T], term: str, read: Callable[[str], T]) -> T:
        found = table.get(term)
        if found is None:
            found = read(term)
            if len(table) < KEPT_TERMS:
                table[term] = found
        return found

    def defined_by_lines(self, term: str) -> str:
        return self._kept(self._defined_lines, term, lambda t: "".join(
            _nt(f"<{t}>", IS_DEFINED_BY, f"<{name}>") for name in self.defined_by(t)))

    def descends_lines(self, term: str) -> str:
        return self._kept(self._descends_lines, term, lambda t: "".join(
            _nt(f"<{t}>", DESCENDS_FROM, f"<{a}>") for a in self.descends_from(t)))

    def parent_map(self) -> dict[str, frozenset[str]]:
        """Every class's parents as `_parents` reads them one by one, read in one scan per
        predicate (the map holds only classes that have parents)."""
        if self._parent_map is None:
            found: dict[str, set[str]] = {}

            def scan(predicate: str) -> Iterator[ox.Quad]:
                return (q for q in self.store.quads_for_pattern(None, ox.NamedNode(predicate),
                                                                None)
                        if _graph_iri(q.graph_name) in self.graphs)

            restricted: dict[ox.BlankNode, list[str]] = {}  # part_of restrictions
            for quad in scan(OWL + "someValuesFrom"):
                if isinstance(quad.object, ox.NamedNode):
                    restricted.setdefault(quad.subject, []).append(quad.object.value)
            for quad in scan(_SUBCLASS_OF):
                if isinstance(quad.subject, ox.NamedNode):
                    if isinstance(quad.object, ox.NamedNode):
                        found.setdefault(quad.subject.value, set()).add(quad.object.value)
                    elif isinstance(quad.object, ox.BlankNode):
                        found.setdefault(quad.subject.value, set()).update(
                            restricted.get(quad.object, ()))
            for quad in scan(SKOS + "broader"):
                if isinstance(quad.subject, ox.NamedNode) and isinstance(quad.object,
                                                                         ox.NamedNode):
                    found.setdefault(quad.subject.value, set()).add(quad.object.value)
            for quad in scan(_EQUIVALENT):
                if isinstance(quad.object, ox.NamedNode) and isinstance(quad.subject,
                                                                        ox.NamedNode):
                    found.setdefault(quad.subject.value, set()).add(quad.object.value)
                    found.setdefault(quad.object.value, set()).add(quad.subject.value)
            self._parent_map = {term: frozenset(parents) for term, parents in found.items()}
        return self._parent_map

    def _objects(self, subject: ox.NamedNode | ox.BlankNode, predicate: str) -> list:
        quads = self.store.quads_for_pattern(subject, ox.NamedNode(predicate), None)
        return [q.object for q in quads if _graph_iri(q.graph_name) in self.graphs]

    def annotations(self, term: str) -> list[tuple[str, str]]:
        return self._kept(self._annotations, term, lambda t: self._remembered(
            "annotations", t, self._read_annotations, lambda found: [list(f) for f in found],
            lambda kept: [(p, o) for p, o in kept]))

    def _read_annotations(self, term: str) -> list[tuple[str, str]]:
        return [(p, str(o)) for p in (DEPRECATED, REPLACED_BY)
                for o in dict.fromkeys(self._objects(ox.NamedNode(term), p))]

    def defined_by(self, term: str) -> list[str]:
        """The schema names of the ontologies that declare the term (or an equivalent)."""
        return self._remembered("defined_by", term, self._read_defined_by, list, list)

    def _read_defined_by(self, term: str) -> list[str]:
        node = ox.NamedNode(term)
        candidates = [node, *self._objects(node, _EQUIVALENT),
                      *(q.subject for q in self.store.quads_for_pattern(
                          None, ox.NamedNode(_EQUIVALENT), node, None))]
        names = set()
        for candidate in candidates:
            for quad in self.store.quads_for_pattern(candidate, ox.NamedNode(RDF + "type"),
                                                     ox.NamedNode(OWL + "Class"), None):
                name = self.source.graphs.get(_graph_iri(quad.graph_name))
                if name is not None:
                    names.add(name)
        return sorted(names)

    def descends_from(self, term: str) -> frozenset[str]:
        if self.source.closure:
            closure = ox.NamedNode(self.source.closure)
            return self._kept(self._ancestors, term, lambda t: frozenset(
                q.object.value for q in self.store.quads_for_pattern(
                    ox.NamedNode(t), ox.NamedNode(DESCENDS_FROM), None, closure)))
        if term in self._ancestors:
            return self._ancestors[term]
        found = self._remembered("descends_from", term, self._closure, sorted, frozenset)
        if len(self._ancestors) < KEPT_TERMS:
            self._ancestors[term] = found
        return found

    def _parents(self, term: str) -> Iterable[str]:
        if self._parent_map is not None:
            return self._parent_map.get(term, ())
        node = ox.NamedNode(term)
        parents = set()
        for parent in self._objects(node, _SUBCLASS_OF):
            if isinstance(parent, ox.NamedNode):
                parents.add(parent.value)
            elif isinstance(parent, ox.BlankNode):  # part_of restrictions
                parents.update(v.value for v in self._objects(parent, OWL + "someValuesFrom")
                               if isinstance(v, ox.NamedNode))
        parents.update(o.value for o in self._objects(node, SKOS + "broader")
                       if isinstance(o, ox.NamedNode))
        parents.update(o.value for o in self._objects(node, _EQUIVALENT)
                       if isinstance(o, ox.NamedNode))
        parents.update(q.subject.value for q in self.store.quads_for_pattern(
            None, ox.NamedNode(_EQUIVALENT), node, None) if _graph_iri(q.graph_name) in self.graphs
            and isinstance(q.subject, ox.NamedNode))
        return parents

    def _closure(self, term: str) -> frozenset[str]:
        """Reflexive-transitive ancestors over is_a + part_of + skos:broader + equivalence
        (an iterative search; cycles through equivalences are fine)."""
        if term in self._ancestors:
            return self._ancestors[term]
        seen = {term}
        stack = [term]
        while stack:
            current = stack.pop()
            known = self._ancestors.get(current)
            if known is not None and current != term:
                seen |= known
                continue
            for parent in self._parents(current):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        result = frozenset(seen)
        if len(self._ancestors) < KEPT_TERMS:
            self._ancestors[term] = result
        return result


@cache
def _ref_predicates() -> tuple[str, ...]:
    return tuple(sorted({FT + prop.key for _, prop in iter_props() if prop.kind == "ref"}))


def stored_entities(store: TrackStore, batch: Sequence[Prepared], data: ox.Store,
                    graph: DataGraph) -> list[str]:
    """Records of entities of other current documents that the documents' rules can meet:
    same class and local_id (uniqueness), or an IRI a document references (integrity).

    The document's (class, local_id) pairs and references are streamed from `data` (no
    DISTINCT, which would keep every pair of a million-track document in a hash set) and
    looked up in the store one by one: memory holds only what is found, whatever the size of
    the document; a repeated pair or target finds the same records again (kept once).
    """
    mine = {item.document_iri for item in batch}
    others = {v.graph: v.document for v in store.versions()
              if v.current and v.document not in mine}
    if not others:
        return []
    local_id, rdf_type = ox.NamedNode(FT + "local_id"), ox.NamedNode(RDF + "type")
    classes = {cls: ox.NamedNode(cls) for cls in UNIQUE_CLASSES}
    found: dict[tuple[str, str, str], ox.Literal | None] = {}
    if _fewer_in_store(store, data, graph):
        _shared_ids_from_store(store, data, graph, others, found)
    else:
        for row in data.query(
                f"SELECT ?c ?id WHERE {{ {in_graph(graph, f'?e a ?c ; <{FT}local_id> ?id')} "
                f"VALUES ?c {{ {_values(UNIQUE_CLASSES)} }} }}"):
            cls, identifier = classes[row[0].value], row[1]
            for quad in store.ox.quads_for_pattern(None, local_id, identifier, None):
                source = _source(store, quad)
                if source in others and any(True for _ in store.ox.quads_for_pattern(
                        quad.subject, rdf_type, cls, quad.graph_name)):
                    found[(quad.subject.value, cls.value, source)] = identifier
    looked: set[ox.NamedNode] = set()  # targets found in other documents (few)
    for row in data.query(
            f"SELECT ?t WHERE {{ {in_graph(graph, '?s ?p ?t FILTER NOT EXISTS { ?t a ?c }')} "
            f"VALUES ?p {{ {_values(_ref_predicates())} }} }}"):
        target = row[0]
        if target in looked:
            continue
        for quad in store.ox.quads_for_pattern(target, rdf_type, None, None):
            source = _source(store, quad)
            if source in others:
                looked.add(target)
                ids = [q.object for q in store.ox.quads_for_pattern(
                    target, local_id, None, quad.graph_name)]
                found[(target.value, quad.object.value, source)] = ids[0] if ids else None
    lines = []
    for index, ((entity, cls, graph_iri), identifier) in enumerate(sorted(
            found.items(), key=lambda item: item[0])):
        node = f"_:stored{index}"
        lines += [_nt(node, RDF + "type", f"<{STORED_ENTITY}>"), _nt(node, ENTITY, f"<{entity}>"),
                  _nt(node, ENTITY_CLASS, f"<{cls}>"),
                  _nt(node, DOCUMENT, f"<{others[graph_iri]}>")]
        if identifier is not None:
            lines.append(_nt(node, FT + "local_id", str(identifier)))
    return lines


def _source(store: TrackStore, quad: ox.Quad) -> str:
    """The version a quad comes from: its named graph, or for a triple of the view, the
    version stored once that describes its subject ("" for none: the view's copy of a version
    with a named graph, found in that graph too)."""
    if isinstance(quad.graph_name, ox.NamedNode):
        return quad.graph_name.value
    subject = quad.subject
    return (store.stored_once_version(subject.value) or "") if isinstance(
        subject, ox.NamedNode) else ""


def _fewer_in_store(store: TrackStore, data: ox.Store, graph: DataGraph) -> bool:
    """Whether the store holds fewer local_ids than the document (all versions counted, and
    the store counted no further than the document's number): then the shared ids are found
    from the store's side, without a lookup per entity of the document."""
    local_id = ox.NamedNode(FT + "local_id")
    mine = sum(1 for _ in data.quads_for_pattern(None, local_id, None, graph))
    stored = sum(1 for _ in islice(store.ox.quads_for_pattern(None, local_id, None, None),
                                   mine + 1))
    return stored <= mine


def _shared_ids_from_store(store: TrackStore, data: ox.Store, graph: DataGraph,
                           others: dict[str, str],
                           found: dict[tuple[str, str, str], ox.Literal | None]) -> None:
    """What the per-entity lookups of `stored_entities` find, read from the store's side: its
    entities of a unique class in another current document whose local_id an entity of the
    same class in the document has."""
    local_id, rdf_type = ox.NamedNode(FT + "local_id"), ox.NamedNode(RDF + "type")
    classes = [ox.NamedNode(cls) for cls in UNIQUE_CLASSES]
    for quad in store.ox.quads_for_pattern(None, local_id, None, None):
        source = _source(store, quad)
        if source not in others:
            continue
        for own in data.quads_for_pattern(None, local_id, quad.object, graph):
            for cls in classes:
                if any(True for _ in data.quads_for_pattern(own.subject, rdf_type, cls, graph)) \
                        and any(True for _ in store.ox.quads_for_pattern(
                            quad.subject, rdf_type, cls, quad.graph_name)):
                    found[(quad.subject.value, cls.value, source)] = quad.object


def curie_prefixes(shapes: ShapesGraph, data: ox.Store, graph: DataGraph) -> set[str]:
    """Prefixes of the values that shapes look up in the CURIE prefix table (only those
    entries of the table are added)."""
    paths = {shape.path.sparql() for shape in shapes._shapes.values() if shape.path is not None
             and any("fts:prefix" in c.params.get("select", "") for c in shape.constraints)}
    found: set[str] = set()
    for path in sorted(paths):
        query = (f"SELECT DISTINCT (STRBEFORE(STR(?v), ':') AS ?p) WHERE "
                 f"{{ {in_graph(graph, f'?s {path} ?v')} }}")
        found.update(row["p"].value for row in data.query(query) if row["p"] is not None)
    return found


@dataclass
class Dataset:
    """A document ready to validate: a scratch store whose one graph is the data graph (one
    graph, not a union of several, is several times faster to query)."""

    store: ox.Store
    graph: str

    def ntriples(self) -> bytes:
        """The data graph as N-Triples, e.g. for pySHACL."""
        return self.store.dump(format=ox.RdfFormat.N_TRIPLES,
                               from_graph=ox.NamedNode(self.graph)) or b""


def build_dataset(
    prepared: Prepared | Sequence[Prepared],
    shapes: ShapesGraph,
    store: TrackStore | None = None,
    ontologies: OntologySource | None = None,
) -> Dataset:
    """The documents' quads plus their context facts, in a fresh memory store, one graph.

    Several documents may share a dataset (validated at once, as if loaded together) when
    their collections differ, so that their nodes stay apart.
    """
    batch = [prepared] if isinstance(prepared, Prepared) else list(prepared)
    graph = ox.NamedNode(batch[0].graph)
    data = ox.Store()
    for item in batch:  # blank node labels of the direct mapping are unique to each document
        data.bulk_load(item.ntriples(), format=ox.RdfFormat.N_TRIPLES, to_graph=graph)
    add_context(batch, data, graph, shapes, store, ontologies)
    return Dataset(data, graph.value)


def context_text(batch: Sequence[Prepared], data: ox.Store, graph: DataGraph,
                 shapes: ShapesGraph, store: TrackStore | None,
                 ontologies: OntologySource | None) -> str:
    """The context facts the rules need about the documents in `graph` of `data`, as
    N-Triples (blank node labels mean something within this text only)."""
    used = in_graph(graph, f"?s <{FT}term_id> ?t FILTER isIRI(?t)")
    terms = {row["t"].value for row in data.query(f"SELECT DISTINCT ?t WHERE {{ {used} }}")}
    named_ontologies, ancestors = shape_names(shapes)
    lines = ontology_facts(ontologies, terms, named_ontologies, ancestors,
                           named_descent=_shipped(shapes))
    if store is not None:
        lines += stored_entities(store, batch, data, graph)
    return "".join(lines) + registry.table_ntriples(curie_prefixes(shapes, data, graph))


def _shipped(shapes: ShapesGraph) -> bool:
    """Whether `shapes` are the shipped shapes (never loading them to tell)."""
    return default_shapes.cache_info().currsize > 0 and shapes is default_shapes()


def add_context(batch: Sequence[Prepared], data: ox.Store, graph: DataGraph,
                shapes: ShapesGraph, store: TrackStore | None,
                ontologies: OntologySource | None) -> None:
    """Add the context facts to `graph` of a scratch store, for good: loaded as text, several
    times cheaper than making the quads in Python (the load gives blank nodes identities of
    their own, never shared with the graph's)."""
    data.load(context_text(batch, data, graph, shapes, store, ontologies).encode("utf-8"),
              format=ox.RdfFormat.N_TRIPLES, to_graph=graph)


def context_quads(batch: Sequence[Prepared], data: ox.Store, graph: ox.NamedNode,
                  shapes: ShapesGraph, store: TrackStore | None,
                  ontologies: OntologySource | None) -> list[ox.Quad]:
    """The context facts the rules need about the documents in `graph` of `data`, as quads of
    that graph (whoever adds them to a store it keeps removes exactly these afterwards)."""
    text = context_text(batch, data, graph, shapes, store, ontologies)
    fresh: dict[str, ox.BlankNode] = {}  # random labels: never shared with the graph's own

    def node(term: Any) -> Any:
        if isinstance(term, ox.BlankNode):
            return fresh.setdefault(term.value, ox.BlankNode())
        return term

    return [ox.Quad(node(t.subject), t.predicate, node(t.object), graph)
            for t in ox.parse(text.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)]
