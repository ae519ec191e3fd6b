"""Materialised reasoning, Ubergraph-style: class closures and ancestor links on annotations.

Ancestor-aware search ("lymphocyte" finds tracks annotated "B cell", "brain" finds tracks from
"cerebellum") should be one index lookup, not a property path walked at query time. So the store
keeps two kinds of inferred graphs, both recomputed whenever their inputs change:

- the **closure graph** `{base}graph/closure`: `ft:subclass_of` (reflexive-transitive closure of
  rdfs:subClassOf between named classes) and `ft:descends_from` (the same over is_a, part_of and
  skos:broader), with owl:equivalentClass counted both ways. It is computed in Python from edges
  fetched by SPARQL (cycles are collapsed into strongly connected components first), because
  SPARQL property paths over ~50k classes take far too long to materialise.
- per document version graph G, a **companion graph** `G/inferred` linking each entity that
  carries an annotation (sample, experiment or track) to every ancestor of its term
  (`ft:own_cell_type_ancestor`, `ft:own_technique_ancestor`, …). It is written before the
  catalog makes G current, so a version is never visible without its links.

Links sit on the carrier, not on every track (bench/results/inferred-links-*.md): a sample is
shared by about four tracks, an experiment by two and a half, so this stores about a third of
the per-track links, while "tracks under lymphocyte" stays an index lookup followed by two
reference hops (`track_path`). The user-facing track predicates (`ft:cell_type_ancestor`, …,
ANCESTOR_PREDICATES; both in mapping.annotations) are those paths; `sparql.virtual` rewrites
them in queries the endpoint receives, so they keep working without being stored.

Both are written with Oxigraph's bulk loader (N-Triples bytes, streamed), several times faster than
transactional writes.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyoxigraph as ox

from fairtracks_ld import heap
from fairtracks_ld.mapping.annotations import (
    ANNOTATIONS,
    KIND_PREDICATES,
    DocumentAnnotations,
)
from fairtracks_ld.mapping.namespaces import FT, OWL, PROV, RDFS, XSD
from fairtracks_ld.store import current_view, records, swap

if TYPE_CHECKING:
    from fairtracks_ld.store import TrackStore

SKOS_BROADER = "http://www.w3.org/2004/02/skos/core#broader"
PART_OF = "http://purl.obolibrary.org/obo/BFO_0000050"
IAO_REPLACED_BY = "http://purl.obolibrary.org/obo/IAO_0100001"

SUBCLASS_OF = FT + "subclass_of"
SUBCLASS_REASONER = FT + "subclass_reasoner"
FAST = "fast"  # the reasoner name recorded for the fast closure
DESCENDS_FROM = FT + "descends_from"
INFERRED_SUFFIX = current_view.INFERRED_SUFFIX
CLOSURE_PATH = current_view.CLOSURE_PATH
LINK_LAYOUT = current_view.LINK_LAYOUT

_PREFIXES = {"ft": FT, "rdfs": RDFS, "owl": OWL, "prov": PROV, "xsd": XSD}


def closure_graph(store: TrackStore) -> str:
    return store.base + CLOSURE_PATH


def inferred_graph(graph: str) -> str:
    """The companion graph of a document version graph."""
    return graph + INFERRED_SUFFIX


# ---- the class closure -----------------------------------------------------------------------


@dataclass(frozen=True)
class Edges:
    """Direct relations between named classes, as read from the ontology graphs."""

    classes: frozenset[str]
    is_a: frozenset[tuple[str, str]]
    part_of: frozenset[tuple[str, str]]
    broader: frozenset[tuple[str, str]]
    equivalent: frozenset[tuple[str, str]]


_EDGE_QUERIES = {
    "classes": "SELECT ?a WHERE { ?a a owl:Class FILTER isIRI(?a) }",
    "is_a": "SELECT ?a ?b WHERE { ?a rdfs:subClassOf ?b FILTER(isIRI(?a) && isIRI(?b)) }",
    "part_of": f"""SELECT ?a ?b WHERE {{ ?a rdfs:subClassOf ?r . ?r owl:onProperty <{PART_OF}> ;
                     owl:someValuesFrom ?b FILTER(isIRI(?a) && isIRI(?b)) }}""",
    "broader": f"SELECT ?a ?b WHERE {{ ?a <{SKOS_BROADER}> ?b FILTER(isIRI(?a) && isIRI(?b)) }}",
    "equivalent": "SELECT ?a ?b WHERE { ?a owl:equivalentClass ?b FILTER(isIRI(?a) && isIRI(?b)) }",
}


def ontology_graphs(store: TrackStore) -> list[ox.NamedNode]:
    return [ox.NamedNode(info.graph) for info in store.ontologies()]


def fetch_edges(store: TrackStore) -> Edges:
    """Every class and direct relation of the loaded ontologies (their union)."""
    return read_edges(store.ox, ontology_graphs(store))


def read_edges(source: ox.Store, graphs: list) -> Edges:
    """Every class and direct relation in the union of `graphs` of any Oxigraph store."""
    found: dict[str, frozenset] = {}
    for name, sparql in _EDGE_QUERIES.items():
        if not graphs:
            found[name] = frozenset()
            continue
        rows = source.query(sparql, default_graph=graphs, prefixes=_PREFIXES)
        if name == "classes":
            found[name] = frozenset(row[0].value for row in rows)
        else:
            found[name] = frozenset((row[0].value, row[1].value) for row in rows)
    return Edges(**found)


def transitive_closure(
    nodes: Iterable[str], edges: Iterable[tuple[str, str]]
) -> dict[str, frozenset[str]]:
    """Reflexive-transitive closure: node → every node reachable from it (itself included).

    Tarjan's algorithm (iterative, so deep hierarchies cannot overflow the stack) emits strongly
    connected components after every component they reach, so each component's ancestor set is
    the union of its members and of already-finished successor sets: each set is built once.
    """
    succ: dict[str, set[str]] = defaultdict(set)
    everything = set(nodes)
    for child, parent in edges:
        succ[child].add(parent)
        everything.update((child, parent))
    result: dict[str, frozenset[str]] = {}
    for component in _components(everything, succ):
        reach: set[str] = set(component)
        for member in component:
            for parent in succ.get(member, ()):
                if parent not in reach:
                    reach |= result[parent]
        closed = frozenset(reach)
        for member in component:
            result[member] = closed
    return result


def _components(nodes: set[str], succ: Mapping[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components in reverse topological order (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                yield component


Table = dict[str, frozenset[str]]  # class → ancestors (reflexive)


@dataclass(frozen=True)
class Closure:
    """ft:subclass_of and ft:descends_from, class → ancestors (reflexive)."""

    subclass_of: Table
    descends_from: Table

    @classmethod
    def of(cls, edges: Edges, subclass_of: Table | None = None) -> Closure:
        """The fast closure; `subclass_of` replaces its first half (a full OWL reasoner's)."""
        both_ways = edges.equivalent | {(b, a) for a, b in edges.equivalent}
        return cls(
            subclass_of=subclass_table(edges) if subclass_of is None else subclass_of,
            descends_from=transitive_closure(
                edges.classes, edges.is_a | edges.part_of | edges.broader | both_ways
            ),
        )


def subclass_table(edges: Edges) -> Table:
    """ft:subclass_of: rdfs:subClassOf between named classes, owl:equivalentClass both ways."""
    both_ways = edges.equivalent | {(b, a) for a, b in edges.equivalent}
    return transitive_closure(edges.classes, edges.is_a | both_ways)


# ---- writing inferred graphs -----------------------------------------------------------------


class _ChunkReader(io.RawIOBase):
    """A read-only binary stream over generated text chunks, so bulk loads stream flat."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = chunk.encode("utf-8")
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _copied(chunks: Iterable[str], copy: current_view.ViewCopy) -> Iterator[str]:
    for chunk in chunks:
        copy.also(chunk)
        yield chunk


def _recorded_lines(chunks: Iterable[str], record: records.Writer) -> Iterator[str]:
    for chunk in chunks:
        record.write(chunk.encode())
        yield chunk


def _batched(lines: Iterable[str], size: int = 20_000) -> Iterator[str]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


BULK_CALL_BYTES = 16 << 20  # N-Triples text per bulk-loader call (~100k quads, ~80 MB)


def bulk_write(store: TrackStore, graph: str | None, chunks: Iterator[str]) -> None:
    """Bulk-load N-Triples text into `graph` (None: the default graph, i.e. the view; IRIs come
    from the store: already valid).

    One loader call per `BULK_CALL_BYTES` of text: Oxigraph's bulk loader holds the quads of
    a call in memory while it sorts them (one call of a 1.9M-quad companion graph peaked at
    2.1 GB; measured in a fresh process, a call of 64 MB of companion text added 318 MB to
    the peak RSS, one of 16 MB 80 MB, at the same CPU per quad), so calls of bounded size
    keep memory flat whatever the graph's size. Text under
    `current_view.SMALL_WRITE` (a small document's companion) is one transaction instead."""
    target = ox.NamedNode(graph) if graph else ox.DefaultGraph()
    for part in _parts(chunks, BULK_CALL_BYTES):
        if sum(map(len, part)) < current_view.SMALL_WRITE:  # one transaction costs less
            store.ox.load("".join(part), format=ox.RdfFormat.N_TRIPLES, to_graph=target,
                          lenient=True)
            continue
        reader = io.BufferedReader(_ChunkReader(iter(part)), buffer_size=1 << 20)
        store.ox.bulk_load(reader, format=ox.RdfFormat.N_TRIPLES, to_graph=target, lenient=True)


def _parts(chunks: Iterator[str], limit: int) -> Iterator[list[str]]:
    """Consecutive runs of chunks of about `limit` characters each."""
    part: list[str] = []
    size = 0
    for chunk in chunks:
        part.append(chunk)
        size += len(chunk)
        if size >= limit:
            yield part
            part, size = [], 0
    if part:
        yield part


def closure_lines(closure: Closure) -> Iterator[str]:
    for predicate, table in ((SUBCLASS_OF, closure.subclass_of),
                             (DESCENDS_FROM, closure.descends_from)):
        link = f"> <{predicate}> <"
        for term, ancestors in table.items():
            head = f"<{term}{link}"
            yield "".join(f"{head}{ancestor}> .\n" for ancestor in ancestors)


# ---- obsolete terms --------------------------------------------------------------------------


def replacements(store: TrackStore, terms: Iterable[str] | None = None) -> dict[str, str | None]:
    """Obsolete (owl:deprecated) classes → their IAO:0100001 replacement (None if none given)."""
    graphs = ontology_graphs(store)
    if not graphs:
        return {}
    values = values_clause("term", terms) if terms is not None else ""
    rows = store.ox.query(
        f"""SELECT ?term ?new WHERE {{ {values} ?term owl:deprecated true .
              OPTIONAL {{ ?term <{IAO_REPLACED_BY}> ?new FILTER isIRI(?new) }} }}""",
        default_graph=graphs, prefixes=_PREFIXES,
    )
    found: dict[str, str | None] = {}
    for row in rows:
        term = row["term"].value
        if found.get(term) is None:
            found[term] = row["new"].value if row["new"] is not None else None
    return found


def follow(term: str, replaced: Mapping[str, str | None]) -> str:
    """The term a (chain of) replaced_by leads to; the term itself when live or unreplaced."""
    seen = {term}
    while (new := replaced.get(term)) is not None and new not in seen:
        seen.add(new)
        term = new
    return term


def effective_term(store: TrackStore, iri: str) -> str:
    """`iri`, or what replaces it when obsolete (a rule naming OBI:0000011 means COB:0000035)."""
    replaced: dict[str, str | None] = {}
    term = iri
    for _ in range(16):  # replacement chains are short; this bounds a cyclic one
        found = replacements(store, [term])
        if found.get(term) is None:
            break
        replaced.update(found)
        term = follow(term, replaced)
    return term


def values_clause(name: str, iris: Iterable[str]) -> str:
    """A VALUES block of IRIs that came from the store (so they are valid IRIs)."""
    return f"VALUES ?{name} {{ {' '.join(str(ox.NamedNode(i)) for i in sorted(set(iris)))} }}"


# ---- companion graphs: carrier → ancestor links ----------------------------------------------

Ancestors = Callable[[set[str]], dict[str, frozenset[str]]]


def read_annotations(store: TrackStore, graph: str) -> DocumentAnnotations:
    """Every term_id of a version graph, by the entity carrying it (links need no more).

    Streamed into a spooled table (`stream.SpooledTerms`, as the loader's): memory keeps the
    distinct sets of (kind, term) pairs, not an entry per carrier (a dict of every carrier of a
    200k-track graph held ~0.3 GB). Rows of one carrier mostly come together; a carrier whose
    rows are apart is listed more than once, each time with some of its pairs, which links it
    to the same ancestors in all (links are made per pair)."""
    from fairtracks_ld.mapping.stream import SpooledTerms  # the mapper's, a heavy import

    g = str(ox.NamedNode(graph))
    branches = " UNION ".join(  # typed: a target node has ft:phenotype too, but carries none
        f'{{ ?node a ft:{owner.title()} ; {path}/ft:term_id ?term BIND("{kind}" AS ?kind) }}'
        for kind, (owner, path) in ANNOTATIONS.items()
    )
    spooled = SpooledTerms()
    node, pairs = None, set()
    for row in store.ox.query(
        f"SELECT ?node ?kind ?term WHERE {{ GRAPH {g} {{ {branches} FILTER isIRI(?term) }} }}",
        prefixes=_PREFIXES,
    ):
        if row[0].value != node:
            if node is not None:
                spooled.add(node, frozenset(pairs))
            node, pairs = row[0].value, set()
        pairs.add((row[1].value, row[2].value))
    if node is not None:
        spooled.add(node, frozenset(pairs))
    return DocumentAnnotations({}, {}, spooled)


def stored_ancestors(store: TrackStore) -> Ancestors:
    """Ancestor lookup against the closure graph (for writes, without recomputing anything)."""

    def lookup(terms: set[str]) -> dict[str, frozenset[str]]:
        if not terms:
            return {}
        replaced = replacements(store, terms)
        wanted = terms | {follow(t, replaced) for t in replaced}
        found = closure_ancestors(store, wanted)
        return {t: with_replacement(t, found, replaced) for t in terms}

    return lookup


def closure_ancestors(store: TrackStore, terms: set[str]) -> dict[str, set[str]]:
    """Each term's `ft:descends_from` ancestors in the closure graph (absent: none stored)."""
    found: dict[str, set[str]] = defaultdict(set)
    rows = store.ox.query(
        f"SELECT ?term ?anc WHERE {{ {values_clause('term', terms)} "
        f"GRAPH {ox.NamedNode(closure_graph(store))} {{ ?term ft:descends_from ?anc }} }}",
        prefixes=_PREFIXES,
    )
    for row in rows:
        found[row[0].value].add(row[1].value)
    return found


def memory_ancestors(closure: Closure, replaced: Mapping[str, str | None]) -> Ancestors:
    """Ancestor lookup against a closure computed in this process (for recomputation)."""

    def lookup(terms: set[str]) -> dict[str, frozenset[str]]:
        return {t: with_replacement(t, closure.descends_from, replaced) for t in terms}

    return lookup


def with_replacement(
    term: str, table: Mapping[str, Iterable[str]], replaced: Mapping[str, str | None]
) -> frozenset[str]:
    """A term's ancestors, and those of what replaces it when obsolete; at least itself."""
    ancestors = {term, *table.get(term, ())}
    effective = follow(term, replaced)
    if effective != term:
        ancestors.update((effective, *table.get(effective, ())))
    return frozenset(ancestors)


def carrier_pairs(annotations: DocumentAnnotations) -> Iterator[tuple[str, frozenset]]:
    """Each entity carrying annotations (sample, experiment, track) with its (kind, term)s."""
    for entity, pairs in annotations.terms.items():
        if pairs:
            yield entity, frozenset(pairs)


def links(pairs: Iterable[tuple[str, str]], table: Mapping[str, frozenset[str]]) -> set:
    """(own predicate, ancestor) links of a carrier with these annotations."""
    return {
        (predicate, ancestor)
        for kind, term in pairs
        for predicate in KIND_PREDICATES[kind]
        for ancestor in table.get(term, (term,))
    }


TEMPLATES_KEPT = 20_000  # companion templates cached (a 200k-track load held 1-2 GB of them)


def companion_lines(annotations: DocumentAnnotations, ancestors: Ancestors) -> Iterator[str]:
    """N-Triples text linking each carrier to every ancestor of its annotations, one by one.

    The (predicate, ancestor) part is built once per distinct combination of annotations and
    stamped with each carrier's IRI, so a large document costs little Python time per entity.
    """
    table = ancestors(annotations.all_terms())
    templates: dict[frozenset, str] = {}
    for entity, pairs in carrier_pairs(annotations):
        template = templates.get(pairs)
        if template is None:
            if len(templates) >= TEMPLATES_KEPT:  # distinct combinations grow with the
                templates.clear()                 # document (~6 KB each): memory stays bounded
            template = templates[pairs] = "".join(
                f"\x00> <{p}> <{a}> .\n" for p, a in sorted(links(pairs, table)))
        yield template.replace("\x00", f"<{entity}")


def write_companion(
    store: TrackStore, graph: str, ancestors: Ancestors | None = None,
    annotations: DocumentAnnotations | None = None, into: str | None = None,
    view_copy: current_view.ViewCopy | None = None, record: records.Writer | None = None,
) -> None:
    """Write `graph`'s companion graph (or the graph `into`) from the data in `graph` (or
    its `annotations`); the view is not touched (see `replace_in_view`), but the lines are
    also given to `view_copy`, from which the settle adds them to the view, and to `record`.

    The target must not exist yet (a new version's companion, a staging graph): an existing
    companion is rewritten by `replace_in_view`, whose swap (store/swap.py) replaces it in
    bounded steps (Oxigraph's `remove_graph` of it was one transaction: GBs at 1M tracks).
    The graph always exists afterwards (empty for a document without annotated tracks), so a
    reload can MOVE it into place.
    """
    target = into or inferred_graph(graph)
    if store.has_graph(target):
        raise ValueError(f"<{target}> exists: rewrite it with replace_in_view")
    annotations = annotations or read_annotations(store, graph)
    lines = companion_lines(annotations, ancestors or stored_ancestors(store))
    text = _batched(lines, 200)
    if view_copy is not None:
        text = _copied(text, view_copy)
    if record is not None:
        text = _recorded_lines(text, record)
    bulk_write(store, target, text)
    store.ox.add_graph(ox.NamedNode(target))
    heap.trim()  # what the bulk-loader calls freed, before the view settle's own calls


# ---- applying changes instead of rewriting -----------------------------------------------------
# Deleting is by far the slowest thing Oxigraph does (a whole graph of 1M quads takes tens of
# seconds; bulk-writing it takes a few), so a recomputation after an ontology change writes only
# the difference between what the inferred graphs hold (computed again from the ontologies as
# they were) and what they must hold now.


def closure_changes(old: Closure, new: Closure) -> tuple[list[str], list[str]]:
    """N-Triples lines to remove and to add to turn `old`'s closure graph into `new`'s."""
    removed: list[str] = []
    added: list[str] = []
    for predicate, before, after in ((SUBCLASS_OF, old.subclass_of, new.subclass_of),
                                     (DESCENDS_FROM, old.descends_from, new.descends_from)):
        for term in before.keys() | after.keys():
            was, now = before.get(term, frozenset()), after.get(term, frozenset())
            if was != now:
                removed.extend(f"<{term}> <{predicate}> <{a}> .\n" for a in was - now)
                added.extend(f"<{term}> <{predicate}> <{a}> .\n" for a in now - was)
    return removed, added


def companion_changes(
    store: TrackStore, graph: str, old: Ancestors, new: Ancestors
) -> tuple[list[str], list[str]]:
    """Lines to remove from and add to `graph`'s companion when the ancestors change."""
    g = str(ox.NamedNode(graph))
    terms = {row[0].value for row in store.ox.query(
        f"SELECT DISTINCT ?term WHERE {{ GRAPH {g} {{ ?node ft:term_id ?term }} }}",
        prefixes=_PREFIXES,
    )}
    before, after = old(terms), new(terms)
    changed = {t for t in terms if before[t] != after[t]}
    removed: list[str] = []
    added: list[str] = []
    if not changed:
        return removed, added
    for entity, pairs in carrier_pairs(read_annotations(store, graph)):
        if any(term in changed for _, term in pairs):
            was, now = links(pairs, before), links(pairs, after)
            removed.extend(f"<{entity}> <{p}> <{a}> .\n" for p, a in was - now)
            added.extend(f"<{entity}> <{p}> <{a}> .\n" for p, a in now - was)
    return removed, added


BULK_THRESHOLD = 100_000  # more added lines than this go through the bulk loader


def apply_changes(store: TrackStore, graph: str, removed: list[str], added: list[str]) -> None:
    """Remove and add N-Triples lines (built from store IRIs) in `graph`, a source of the
    view, and in the view: removals leave the view first, additions enter it last, so an
    interrupted change leaves the view short of its sources, never ahead (a full refresh
    repairs it)."""
    current_view.remove_lines(store, graph, removed)
    g = str(ox.NamedNode(graph))
    for start in range(0, len(removed), 10_000):
        batch = "".join(removed[start:start + 10_000])
        store.ox.update(f"DELETE DATA {{ GRAPH {g} {{ {batch} }} }}")
    for target in (graph, None):
        if len(added) > BULK_THRESHOLD:
            bulk_write(store, target, _batched(added))
        elif added:
            store.ox.load("".join(added).encode(), format=ox.RdfFormat.N_TRIPLES,
                          to_graph=ox.NamedNode(target) if target else ox.DefaultGraph())


def replace_in_view(store: TrackStore, graph: str, fill: Callable[[str], None]) -> None:
    """Rewrite `graph` (a source of the view, or a superseded version's companion) from
    scratch: `fill` writes its new content into a staging graph, which replaces it, in the view
    too, in bounded steps that the next writer finishes if this one is killed (store/swap.py;
    one update MOVEing it in held the old and the new graph, twice each, in memory). A graph
    written for the first time (nothing leaves the view) is written in place and bulk-added to
    the view instead, and `refresh` records its digest last, so an interrupted first write is
    redone."""
    if not store.has_graph(graph):
        fill(graph)
        store.ox.add_graph(ox.NamedNode(graph))
        current_view.bulk_add(store, graph)
        return
    swap.replace(store, graph, fill)


# ---- keeping it all current ------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """What the inferred graphs are computed from: the closure and the replacements."""

    closure: Closure
    replaced: dict[str, str | None]

    def ancestors(self) -> Ancestors:
        return memory_ancestors(self.closure, self.replaced)

    def with_subclass_of(self, table: Table) -> State:
        return State(replace(self.closure, subclass_of=table), self.replaced)


def compute_state(store: TrackStore, subclass_of: Table | None = None) -> State:
    return State(Closure.of(fetch_edges(store), subclass_of), replacements(store))


def stored_subclass_of(store: TrackStore) -> Table:
    """The ft:subclass_of links the closure graph holds (whoever computed them)."""
    found: dict[str, set[str]] = defaultdict(set)
    for row in store.ox.query(
        f"SELECT ?a ?b WHERE {{ GRAPH <{closure_graph(store)}> {{ ?a ft:subclass_of ?b }} }}",
        prefixes=_PREFIXES,
    ):
        found[row[0].value].add(row[1].value)
    return {term: frozenset(ancestors) for term, ancestors in found.items()}


def current_state(store: TrackStore) -> State | None:
    """The state the stored inferred graphs reflect, if they are current (else None).

    Called before an ontology change, so that afterwards only the difference is written.
    """
    if store.read_only or recorded_digest(store) != ontology_digest(store):
        return None
    return compute_state(store)


@dataclass(frozen=True)
class RefreshReport:
    """What a recomputation did, for the CLI and the benchmarks."""

    classes: int
    subclass_of: int
    descends_from: int
    companions: int
    removed: int
    added: int
    seconds_closure: float
    seconds_companions: float


def ontology_digest(store: TrackStore) -> str:
    """Fingerprint of the loaded ontologies (a reload changes its load time, so its digest)."""
    state = sorted((o.graph, o.version_iri or "", o.loaded_at) for o in store.ontologies())
    return hashlib.sha256(repr(state).encode()).hexdigest()


def recorded_digest(store: TrackStore) -> str | None:
    return _recorded(store, "ft:ontology_digest")


def recorded_reasoner(store: TrackStore) -> str:
    """Who computed the stored ft:subclass_of: "fast", or a full OWL reasoner ("hermit")."""
    return _recorded(store, "ft:subclass_reasoner") or FAST


def _recorded(store: TrackStore, predicate: str) -> str | None:
    rows = list(store.ox.query(
        f"SELECT ?d WHERE {{ GRAPH <{store.catalog}> {{ <{closure_graph(store)}> "
        f"{predicate} ?d }} }}", prefixes=_PREFIXES,
    ))
    return rows[0]["d"].value if rows else None


def ensure_current(store: TrackStore) -> RefreshReport | None:
    """Recompute everything when the closure does not match the loaded ontologies."""
    if store.read_only or recorded_digest(store) == ontology_digest(store):
        return None
    return refresh(store)


def refresh(
    store: TrackStore, previous: State | None = None,
    subclass_of: Table | None = None, reasoner: str = FAST,
) -> RefreshReport:
    """Recompute the closure, then the companion of every current version.

    With `previous` (the state the stored graphs were computed from, see `current_state`) only
    the difference is written; without it everything is rewritten from scratch. Companions of
    versions that are no longer current are dropped (they would be stale). The catalog's digest
    is written last, so an interrupted refresh is redone by the next write.

    `subclass_of`, computed by `reasoner` (a full OWL reasoner, see `ontology.owl_reasoner`),
    replaces the fast ft:subclass_of; the catalog records who computed it, and the next refresh
    without it returns to the fast closure. Companions use ft:descends_from only, so they do not
    depend on it.
    """
    started = time.perf_counter()
    state = compute_state(store, subclass_of)
    target = closure_graph(store)
    removed: list[str] = []
    added: list[str] = []
    if previous is not None and store.has_graph(target):
        if subclass_of is not None or recorded_reasoner(store) != FAST:
            previous = previous.with_subclass_of(stored_subclass_of(store))
        removed, added = closure_changes(previous.closure, state.closure)
        apply_changes(store, target, removed, added)
    else:
        replace_in_view(store, target,
                        lambda staging: bulk_write(store, staging, closure_lines(state.closure)))
    counts = [len(removed), len(added)]
    middle = time.perf_counter()
    companions = 0
    recorded = _forget_companion_records(store)
    for version in store.versions():
        companion = inferred_graph(version.graph)
        if not version.current:
            if store.has_graph(companion):
                swap.drop(store, companion)  # bounded; a kill leaves a note, finished next
            continue
        companions += 1
        if previous is not None and store.has_graph(companion):
            removed, added = companion_changes(store, version.graph, previous.ancestors(),
                                               state.ancestors())
            apply_changes(store, companion, removed, added)
            counts = [counts[0] + len(removed), counts[1] + len(added)]
        else:
            replace_in_view(store, companion, lambda staging, graph=version.graph:
                            write_companion(store, graph, state.ancestors(), into=staging))
    _record_companions(store, recorded)
    _record(store, ontology_digest(store), reasoner if subclass_of is not None else FAST)
    store.flush()
    closure = state.closure
    return RefreshReport(
        classes=len(closure.descends_from),
        subclass_of=sum(map(len, closure.subclass_of.values())),
        descends_from=sum(map(len, closure.descends_from.values())),
        companions=companions, removed=counts[0], added=counts[1],
        seconds_closure=middle - started,
        seconds_companions=time.perf_counter() - middle,
    )


def _forget_companion_records(store: TrackStore) -> list[str]:
    """Before companions are rewritten in place: the catalog stops naming their records (so
    an interrupted rewrite leaves none that readers would trust); returns the companions that
    had one, for `_record_companions`."""
    had = [g for g in records.names(store) if g.endswith(INFERRED_SUFFIX)]
    records.forget(store, had)
    return had


def _record_companions(store: TrackStore, companions: Iterable[str]) -> None:
    """Write again, from the store, the records of the companions that had one and still
    exist (an ontology change drops the companions of versions no longer current)."""
    for companion in companions:
        if store.has_graph(companion):
            records.write_from_store(store, companion)


def _record(store: TrackStore, digest: str, reasoner: str) -> None:
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    stamp = ox.Literal(now, datatype=ox.NamedNode(XSD + "dateTime"))
    closure = closure_graph(store)
    store.ox.update(
        f"""DELETE WHERE {{ GRAPH <{store.catalog}> {{ <{closure}> ?p ?o }} }} ;
        INSERT DATA {{ GRAPH <{store.catalog}> {{
          <{closure}> a ft:InferredGraph ; ft:ontology_digest {ox.Literal(digest)} ;
            ft:subclass_reasoner {ox.Literal(reasoner)} ; prov:generatedAtTime {stamp} ;
            ft:link_layout {ox.Literal(LINK_LAYOUT)} }} }}""",
        prefixes=_PREFIXES,
    )


def relink(store: TrackStore) -> int:
    """Rewrite every companion from its version graph against the stored closure (a store whose
    links sat on every track), then record the link layout, last: an interrupted run is
    redone. Current companions are swapped in the view too. Returns the companions written."""
    written = 0
    lookup = stored_ancestors(store)
    recorded = _forget_companion_records(store)
    for version in store.versions():
        companion = inferred_graph(version.graph)
        if not store.has_graph(companion):
            continue
        written += 1  # history (not current) is swapped too, outside the view
        replace_in_view(store, companion, lambda staging, graph=version.graph:
                        write_companion(store, graph, lookup, into=staging))
    _record_companions(store, recorded)
    closure = closure_graph(store)
    store.ox.update(
        f"""DELETE WHERE {{ GRAPH <{store.catalog}> {{ <{closure}> ft:link_layout ?any }} }} ;
        INSERT DATA {{ GRAPH <{store.catalog}> {{
          <{closure}> ft:link_layout {ox.Literal(LINK_LAYOUT)} }} }}""", prefixes=_PREFIXES)
    store.flush()
    return written
