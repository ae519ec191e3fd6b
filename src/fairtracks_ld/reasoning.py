"""Materialised reasoning, Ubergraph-style: the class closure ancestor-aware answers join.

Ancestor-aware search ("lymphocyte" finds tracks annotated "B cell", "brain" finds tracks from
"cerebellum") joins an annotation's term to the **closure graph** `{base}graph/closure`:
`ft:subclass_of` (reflexive-transitive closure of rdfs:subClassOf between named classes) and
`ft:descends_from` (the same over is_a, part_of and skos:broader), with owl:equivalentClass
counted both ways, and `ft:found_under` (an obsolete class → its IAO:0100001 replacement and what
that descends from). It is computed in Python
from edges fetched by SPARQL (cycles are collapsed into strongly connected components first),
because SPARQL property paths over ~50k classes take far too long to materialise, and
recomputed whenever the ontologies change.

Nothing is stored per track or per annotated entity: the user-facing track predicates
(`ft:cell_type_ancestor`, …, ANCESTOR_PREDICATES in mapping.annotations) are property paths from
the track to its annotations' terms and on through the closure (`track_path`), which
`sparql.virtual` writes into the queries the endpoint receives. Links stored on each annotated
entity (earlier layouts) cost a third of the view's triples at a million tracks, a companion
graph per version and a rewrite of every companion after an ontology change, for ancestor-aware
counts 2-16x faster and the same first pages (bench/results/links-in-place-1021000.md).

The closure is written with Oxigraph's bulk loader (N-Triples bytes, streamed), several times
faster than transactional writes.
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
FOUND_UNDER = FT + "found_under"
INFERRED_SUFFIX = current_view.INFERRED_SUFFIX
CLOSURE_PATH = current_view.CLOSURE_PATH
LINK_LAYOUT = current_view.LINK_LAYOUT

_PREFIXES = {"ft": FT, "rdfs": RDFS, "owl": OWL, "prov": PROV, "xsd": XSD}


def closure_graph(store: TrackStore) -> str:
    return store.base + CLOSURE_PATH


def inferred_graph(graph: str) -> str:
    """The companion graph an earlier layout wrote beside a document version graph (its
    stored ancestor links; `drop_companions` removes them)."""
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
    """ft:subclass_of and ft:descends_from, class → ancestors (reflexive), and ft:found_under:
    an obsolete class → what its replacement descends from (and the replacement), where it
    does not descend itself, so that an annotation naming it is found under them too."""

    subclass_of: Table
    descends_from: Table
    found_under: Table

    @classmethod
    def of(cls, edges: Edges, replaced: Mapping[str, str | None],
           subclass_of: Table | None = None) -> Closure:
        """The fast closure; `subclass_of` replaces its first half (a full OWL reasoner's)."""
        both_ways = edges.equivalent | {(b, a) for a, b in edges.equivalent}
        descends_from = transitive_closure(
            edges.classes, edges.is_a | edges.part_of | edges.broader | both_ways)
        return cls(
            subclass_of=subclass_table(edges) if subclass_of is None else subclass_of,
            descends_from=descends_from,
            found_under=found_under(descends_from, replaced),
        )


def found_under(descends_from: Table, replaced: Mapping[str, str | None]) -> Table:
    """Obsolete class → its replacement's ancestors it lacks (`with_replacement`'s extra)."""
    table: Table = {}
    for term in replaced:
        own = {term, *descends_from.get(term, ())}
        if extra := with_replacement(term, descends_from, replaced) - own:
            table[term] = extra
    return table


def subclass_table(edges: Edges) -> Table:
    """ft:subclass_of: rdfs:subClassOf between named classes, owl:equivalentClass both ways."""
    both_ways = edges.equivalent | {(b, a) for a, b in edges.equivalent}
    return transitive_closure(edges.classes, edges.is_a | both_ways)


# ---- writing the closure graph -----------------------------------------------------------------


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
    a call in memory while it sorts them (one call of a 1.9M-quad graph peaked at 2.1 GB;
    measured in a fresh process, a call of 64 MB of N-Triples added 318 MB to the peak RSS,
    one of 16 MB 80 MB, at the same CPU per quad), so calls of bounded size keep memory flat
    whatever the graph's size. Text under `current_view.SMALL_WRITE` is one transaction
    instead."""
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
                             (DESCENDS_FROM, closure.descends_from),
                             (FOUND_UNDER, closure.found_under)):
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


# ---- ancestors of annotation terms (the search index's lookups) --------------------------------

Ancestors = Callable[[set[str]], dict[str, frozenset[str]]]


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


def with_replacement(
    term: str, table: Mapping[str, Iterable[str]], replaced: Mapping[str, str | None]
) -> frozenset[str]:
    """A term's ancestors, and those of what replaces it when obsolete; at least itself."""
    ancestors = {term, *table.get(term, ())}
    effective = follow(term, replaced)
    if effective != term:
        ancestors.update((effective, *table.get(effective, ())))
    return frozenset(ancestors)


# ---- applying changes instead of rewriting -----------------------------------------------------
# Deleting is by far the slowest thing Oxigraph does (a whole graph of 1M quads takes tens of
# seconds; bulk-writing it takes a few), so a recomputation after an ontology change writes only
# the difference between what the closure graph holds (computed again from the ontologies as
# they were) and what it must hold now.


def closure_changes(old: Closure, new: Closure) -> tuple[list[str], list[str]]:
    """N-Triples lines to remove and to add to turn `old`'s closure graph into `new`'s."""
    removed: list[str] = []
    added: list[str] = []
    for predicate, before, after in ((SUBCLASS_OF, old.subclass_of, new.subclass_of),
                                     (DESCENDS_FROM, old.descends_from, new.descends_from),
                                     (FOUND_UNDER, old.found_under, new.found_under)):
        for term in before.keys() | after.keys():
            was, now = before.get(term, frozenset()), after.get(term, frozenset())
            if was != now:
                removed.extend(f"<{term}> <{predicate}> <{a}> .\n" for a in was - now)
                added.extend(f"<{term}> <{predicate}> <{a}> .\n" for a in now - was)
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
    """Rewrite `graph` (a source of the view: the closure) from scratch: `fill` writes its new
    content into a staging graph, which replaces it, in the view too, in bounded steps that the next
    writer finishes if this one is killed (store/swap.py; one update MOVEing it in held the old and
    the new graph, twice each, in memory). A graph written for the first time (nothing leaves the
    view) is written in place and bulk-added to the view instead, and `refresh` records its digest
    last, so an interrupted first write is redone."""
    if not store.has_graph(graph):
        fill(graph)
        store.ox.add_graph(ox.NamedNode(graph))
        current_view.bulk_add(store, graph)
        return
    swap.replace(store, graph, fill)


# ---- keeping it all current ------------------------------------------------------------------


def compute_closure(store: TrackStore, subclass_of: Table | None = None) -> Closure:
    return Closure.of(fetch_edges(store), replacements(store), subclass_of)


def stored_subclass_of(store: TrackStore) -> Table:
    """The ft:subclass_of links the closure graph holds (whoever computed them)."""
    found: dict[str, set[str]] = defaultdict(set)
    for row in store.ox.query(
        f"SELECT ?a ?b WHERE {{ GRAPH <{closure_graph(store)}> {{ ?a ft:subclass_of ?b }} }}",
        prefixes=_PREFIXES,
    ):
        found[row[0].value].add(row[1].value)
    return {term: frozenset(ancestors) for term, ancestors in found.items()}


def current_state(store: TrackStore) -> Closure | None:
    """The closure the stored closure graph holds, if it is current (else None).

    Called before an ontology change, so that afterwards only the difference is written.
    """
    if store.read_only or recorded_digest(store) != ontology_digest(store):
        return None
    return compute_closure(store)


@dataclass(frozen=True)
class RefreshReport:
    """What a recomputation did, for the CLI and the benchmarks."""

    classes: int
    subclass_of: int
    descends_from: int
    found_under: int
    removed: int
    added: int
    seconds: float


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
    store: TrackStore, previous: Closure | None = None,
    subclass_of: Table | None = None, reasoner: str = FAST,
) -> RefreshReport:
    """Recompute the closure graph.

    With `previous` (the closure the stored graph was computed from, see `current_state`) only
    the difference is written; without it the graph is rewritten from scratch. The catalog's
    digest is written last, so an interrupted refresh is redone by the next write.

    `subclass_of`, computed by `reasoner` (a full OWL reasoner, see `ontology.owl_reasoner`),
    replaces the fast ft:subclass_of; the catalog records who computed it, and the next refresh
    without it returns to the fast closure. Ancestor-aware answers join ft:descends_from and
    ft:found_under only, so they do not depend on it.
    """
    started = time.perf_counter()
    closure = compute_closure(store, subclass_of)
    target = closure_graph(store)
    removed: list[str] = []
    added: list[str] = []
    if previous is not None and store.has_graph(target):
        if subclass_of is not None or recorded_reasoner(store) != FAST:
            previous = replace(previous, subclass_of=stored_subclass_of(store))
        removed, added = closure_changes(previous, closure)
        apply_changes(store, target, removed, added)
    else:
        replace_in_view(store, target,
                        lambda staging: bulk_write(store, staging, closure_lines(closure)))
    _record(store, ontology_digest(store), reasoner if subclass_of is not None else FAST)
    store.flush()
    return RefreshReport(
        classes=len(closure.descends_from),
        subclass_of=sum(map(len, closure.subclass_of.values())),
        descends_from=sum(map(len, closure.descends_from.values())),
        found_under=sum(map(len, closure.found_under.values())),
        removed=len(removed), added=len(added), seconds=time.perf_counter() - started,
    )


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


def drop_companions(store: TrackStore) -> int:
    """Bring a store whose versions have companion graphs of stored ancestor links (earlier
    layouts) to this one: each companion is dropped in the bounded steps of a swap (its links
    leave the view; a kill midway leaves a note the next writer finishes), the catalog forgets
    their records, then the closure is rewritten with ft:found_under and the layout recorded,
    last, so an interrupted run is redone. Returns the companions dropped."""
    dropped = [v.graph + INFERRED_SUFFIX for v in store.versions()
               if store.has_graph(v.graph + INFERRED_SUFFIX)]
    records.forget(store, [g for g in records.names(store) if g.endswith(INFERRED_SUFFIX)])
    for companion in dropped:
        swap.drop(store, companion)
    refresh(store)
    return len(dropped)
