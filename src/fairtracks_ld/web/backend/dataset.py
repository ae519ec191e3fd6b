"""The backend contract, in one place: what the remote store holds and what the server reads.

The remote store holds the graphs of a local store, named as they are there (`fairtracks-ld dump`
N-Quads loaded as they are, or `fairtracks-ld publish --to`): one graph per document version, the
catalog graph, ontology graphs, the closure graph and validation reports. The server reads it
through the same `TrackStore` methods as a local snapshot, so the catalog decides what is current
exactly as it does locally. A local store keeps its current view merged in its default graph;
`publish` keeps that merge as one named graph, the view graph (publication/view.py), and records the
catalog stamp it is in step with. A query's default graph is the view graph alone when that stamp is
the catalog's the server read (`RemoteOx.merged`), else the view's sources (`current_view.sources`:
current versions, ontologies, closure) as `default-graph-uri`s (each triple once): a target loaded
from a dump, published without it, or in the middle of a publication. The `DefaultGraph` of
`quads_for_pattern` is read from the sources' quads. The engine's own default graph (Virtuoso: the
union of all graphs) is never relied on, and the view graph is never a named graph of an answer (its
rows are dropped from `GRAPH ?g` reads). When in step, what is read of the default graph (a node's
description for dereferencing and pages, links to it) is asked of the view graph alone: `GRAPH ?g`
there answers each quad twice (its source's and the view graph's), twice the rows to write, send and
parse; a node's quads by graph (a page's provenance) are asked only where a page asks for them.

A dataset named with `default-graph-uri` has, by the SPARQL protocol, no named graphs unless
`named-graph-uri`s are sent too (Oxigraph holds to this, Virtuoso does not), while the embedded
server's queries see every graph in GRAPH patterns. So a query that reads named graphs (GRAPH)
is sent with the graphs the catalog knows as `named-graph-uri`s: every IRI it mentions (document
versions, their validation reports, ontologies, the closure, itself: `catalog_graphs`).

`RemoteOx` answers the few pyoxigraph `Store` reads the web layer uses (`query`,
`quads_for_pattern`, `contains_named_graph`) with SPARQL over HTTP, and `BackendReader` plays the
snapshot reader: it polls a cheap catalog query and opens a new `RemoteStore` when the published
catalog changes, so per-snapshot caches, ETags and the facet index follow the backend.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld.mapping.iris import default_base_iri, normalise_base
from fairtracks_ld.publication.view import STAMP_QUERY, catalog_stamp, view_graph
from fairtracks_ld.reasoning import closure_graph
from fairtracks_ld.sparql.tokens import WORD, LexError, tokenize
from fairtracks_ld.store import TrackStore
from fairtracks_ld.web.backend.endpoint import BackendError, Endpoint
from fairtracks_ld.web.query_text import names_graphs

EMPTY_GRAPH = "urn:fairtracks-ld:no-graph"  # names the empty default graph Oxigraph would give
RDF_REST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#rest"
RDF_NIL = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#nil")
MAX_NODES = 100_000  # described nodes kept per store
MAX_ANSWERS = 50_000  # pattern answers kept per store (labels, incoming links, ...)
KEPT_MOST = 10_000  # quads of one answer kept: a bigger one (a graph's column) is read once
PAGE_TRIPLES = 100_000  # triples per CONSTRUCT answer (~19 MB of N-Triples) when paged
# A node's quads with its nested nodes' (`{iri}#…`, in any graph, two levels deep: an
# experiment's `#target` and `#target/sequence_feature`) and the lists hanging from
# either (rdf:rest+, not rest*: Virtuoso 7 skips rest*'s zero-length step), their cells nested
# IRIs (`{iri}#{name}-list-{n}`, docs/mapping.md) or, as loaded before lists were skolemised,
# blank nodes. The second level's subjects are found in a subquery: written as one join, Virtuoso
# planned it from `GRAPH ?g { ?s ?p ?o }` filtered by STRSTARTS (every quad read: 20-30 s per
# track at 100,000 tracks), from the subquery 0.04 s. So are a nested node's blank nodes: as one
# join, 6-8 s of Virtuoso's CPU for most studies at 20,000 tracks (4 nested nodes, none blank).
WHOLE_LISTS_QUERY = """{{
  {{ GRAPH ?g {{ {s} ?p ?o }} BIND({s} AS ?s) }}
  UNION {{ GRAPH ?h {{ {s} ?l ?s FILTER(isIRI(?s) && STRSTARTS(STR(?s), {nested})) }}
          GRAPH ?g {{ ?s ?p ?o }} }}
  UNION {{ {{ SELECT DISTINCT ?s WHERE {{ GRAPH ?h {{
              {s} ?l ?n FILTER(isIRI(?n) && STRSTARTS(STR(?n), {nested}))
              ?n ?m ?s FILTER(isIRI(?s) && STRSTARTS(STR(?s), {nested})) }} }} }}
          GRAPH ?g {{ ?s ?p ?o }} }}
  UNION {{ GRAPH ?g {{ {s} ?l ?s FILTER(isBlank(?s)) ?s ?p ?o }} }}
  UNION {{ GRAPH ?g {{ {s} ?l ?list FILTER(isBlank(?list) ||
                                          isIRI(?list) && STRSTARTS(STR(?list), {nested}))
                      ?list {rest}+ ?s . ?s ?p ?o }} }}
  UNION {{ {{ SELECT DISTINCT ?s WHERE {{ GRAPH ?h {{
              {s} ?l ?n FILTER(isIRI(?n) && STRSTARTS(STR(?n), {nested}))
              ?n ?m ?s FILTER(isBlank(?s)) }} }} }}
          GRAPH ?g {{ ?s ?p ?o }} }}
  UNION {{ GRAPH ?g {{ {s} ?l ?n FILTER(isIRI(?n) && STRSTARTS(STR(?n), {nested}))
                      ?n ?m ?list FILTER(isBlank(?list) ||
                                         isIRI(?list) && STRSTARTS(STR(?list), {nested}))
                      ?list {rest}+ ?s . ?s ?p ?o }} }}
}}"""  # one subject's group; several subjects' groups are joined by UNION in one SELECT
# The same with each list's first two nodes only (`{rest}` for `{rest}+`): Virtuoso answers a
# property path by a walk that grows with the store (at 5,000 tracks the rest+ branch alone cost
# it 17 ms of CPU per track, the whole query 24-38 ms), and most lists are short; when a list goes
# on past its second node (`_lists_go_on`), the subjects are asked again with WHOLE_LISTS_QUERY.
DESCRIBE_QUERY = WHOLE_LISTS_QUERY.replace("{rest}+", "{rest}")
DESCRIBE_BATCH = 20  # subjects per describing query
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
# What a resource page asks besides its description (`RemoteOx.prefetch_page`), as branches of
# the describing query: ?k tells them apart (the description's rows leave it unbound).
PAGE_BRANCHES = """
UNION {{ GRAPH <{view}> {{ ?s ?p {s} }} BIND({s} AS ?o) BIND("in" AS ?k) }}
UNION {{ GRAPH <{catalog}> {{ ?s ?p {s} }} BIND({s} AS ?o) BIND(<{catalog}> AS ?g)
        BIND("in" AS ?k) }}
UNION {{ GRAPH ?g {{ {s} {type} ?o }} BIND({s} AS ?s) BIND({type} AS ?p) BIND("type" AS ?k) }}"""
FORMS = ("select", "ask", "construct", "describe")
CATALOG_GRAPHS = """
SELECT DISTINCT ?g WHERE { GRAPH ?c { ?c a <https://w3id.org/fairtracks-ld/vocab#Catalog> .
  { ?g ?p ?o } UNION { ?s ?p ?g FILTER(isIRI(?g)) } } }"""
VIEW_SOURCES = """
SELECT ?g WHERE {{ GRAPH <{catalog}> {{
  {{ ?doc <https://w3id.org/fairtracks-ld/vocab#current_version> ?g }}
  UNION {{ ?g a <https://w3id.org/fairtracks-ld/vocab#OntologyGraph> }} }} }}"""
def query_form(text: str) -> str:
    """select, ask, construct or describe: the first such keyword (select when unreadable)."""
    try:
        tokens = tokenize(text)
    except LexError:
        return "select"
    return next((t.keyword for t in tokens if t.kind == WORD and t.keyword in FORMS), "select")


def prologue(prefixes: Mapping[str, str] | None, base_iri: str | None = None) -> str:
    """Declarations sent before a query, as pyoxigraph's `prefixes=` and `base_iri=` apply."""
    lines = [f"BASE <{base_iri}>"] if base_iri else []
    lines += [f"PREFIX {name}: <{iri}>" for name, iri in (prefixes or {}).items()]
    return "\n".join(lines) + "\n" if lines else ""


def graph_iris(graphs: Iterable[ox.NamedNode | ox.DefaultGraph],
               view: Iterable[str] = ()) -> list[str]:
    """Graph IRIs for `default-graph-uri`: the store's default graph stands for the `view`'s
    sources; an empty list becomes a graph that holds nothing, never the engine's union."""
    iris: list[str] = []
    for graph in graphs:
        iris.extend(view if isinstance(graph, ox.DefaultGraph) else [graph.value])
    return list(dict.fromkeys(iris)) or [EMPTY_GRAPH]


def _values(substitutions: Mapping[ox.Variable, ox.NamedNode | ox.Literal]) -> str:
    """pyoxigraph's `substitutions=` as a trailing VALUES block (a join on the bound values)."""
    names = " ".join(str(v) for v in substitutions)
    row = " ".join(str(t) for t in substitutions.values())
    return f"\nVALUES ({names}) {{ ({row}) }}"


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def over_graph(describing: str, graph: str) -> str:
    """A describing query read from one graph (the view graph) instead of any (`GRAPH ?g`)."""
    return describing.replace("GRAPH ?g", f"GRAPH <{graph}>").replace(
        "GRAPH ?h", f"GRAPH <{graph}>")


Node = ox.NamedNode | ox.BlankNode
Term = ox.NamedNode | ox.BlankNode | ox.Literal | None


class Described:
    """Described nodes' quads (a node with those of its nested nodes and lists, see
    `RemoteOx._describe`), bounded (MAX_NODES); `whole`: the nodes asked for, whose every
    pattern these quads answer (a nested node's may miss quads no walk led to)."""

    def __init__(self) -> None:
        self.nodes: dict[Node, list[ox.Quad]] = {}
        self.whole: set[ox.NamedNode] = set()

    def answers(self, subject: Term, predicate: Term, obj: Term) -> bool:
        return subject in self.nodes and ((predicate is None and obj is None) or
                                          subject in self.whole)

    def matching(self, subject: Node, predicate: Term, obj: Term,
                 graph_name: ox.NamedNode | None = None) -> list[ox.Quad]:
        return [q for q in self.nodes[subject]
                if (predicate is None or q.predicate == predicate) and
                (obj is None or q.object == obj) and
                (graph_name is None or q.graph_name == graph_name)]

    def keep(self, subjects: list[ox.NamedNode], found: Mapping[Node, set[ox.Quad]]) -> None:
        if len(self.nodes) + len(found) > MAX_NODES:
            self.nodes.clear()
            self.whole.clear()
        for node, quads in found.items():
            self.nodes[node] = list(quads)
        self.whole.update(subjects)


class RemoteOx:
    """The read side of a pyoxigraph Store, answered by an external endpoint."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._nodes = Described()  # every graph's quads, the view graph's left out
        self._view_nodes = Described()  # the view graph's, as the default graph's (merged)
        self._answers: OrderedDict[tuple, list[ox.Quad]] = OrderedDict()
        self._counts: dict[tuple, int] = {}  # (subject, predicate, graph): quads counted
        self._catalog_graphs: list[str] | None = None
        self._view: list[str] | None = None
        self.catalog = ""  # set by RemoteStore once it knows its base: the view is read there
        self.closure = ""
        self.view_graph = ""  # the published view graph: never a named graph of the answers
        self.merged = False  # whether it is in step with the catalog this store reads

    def default_dataset(self) -> list[str]:
        """The graphs a query's default graph is: the view graph when in step (one graph:
        Virtuoso's joins cost ~1.3 ms more per graph listed), else the view's sources."""
        return [self.view_graph] if self.merged else self.view()

    def view(self) -> list[str]:
        """The current view's source graphs (see the module's docstring), read once per store."""
        if self._view is None:
            rows = self.endpoint.solutions(VIEW_SOURCES.format(catalog=self.catalog))
            self._view = sorted({self.closure} | {row["g"].value for row in rows})
        return self._view

    def know_view(self, sources: Iterable[str]) -> None:
        """The view's sources as the catalog poll found them (the closure is added here)."""
        self._view = sorted({*sources, self.closure})

    def query(self, sparql: str, *, default_graph=None, named_graphs=None, prefixes=None,
              use_default_graph_as_union: bool = False, substitutions=None, base_iri=None):
        text = prologue(prefixes, base_iri) + sparql + (
            _values(substitutions) if substitutions else "")
        if use_default_graph_as_union:
            default = None
        elif default_graph is None:  # before the catalog is known: the engine's dataset
            default = self.default_dataset() if self.catalog else None
        else:
            default = graph_iris(default_graph if isinstance(default_graph, list)
                                 else [default_graph], self.default_dataset())
        named = [g.value for g in named_graphs] if named_graphs is not None else None
        if default is not None and named is None and names_graphs(sparql):
            named = self.catalog_graphs()
        if query_form(sparql) in ("construct", "describe"):
            return self.endpoint.triples(text, default, named)
        return self.endpoint.solutions(text, default, named)

    def quads_for_pattern(self, subject=None, predicate=None, obj=None,
                          graph_name=None) -> Iterable[ox.Quad]:
        """Quads matching a pattern in the named graphs (the remote store has no separate
        default graph). A store's answers never change (a new catalog state opens a new store),
        so they are kept (a bounded number). Blank nodes cannot be asked for by label: an IRI's
        quads come with those of its nested nodes (`{iri}#…`) and lists (see `_describe`), kept
        for the describer to walk next; a described IRI's other patterns (a page's provenance
        asks its rdf:type quads) are answered from its quads, without a round trip. When
        merged, the default graph's are read from the view graph (`_in_view`) unless every
        graph's quads are at hand already."""
        if isinstance(graph_name, ox.DefaultGraph):  # the view: its sources' triples, once
            if self.merged and (self._view_nodes.answers(subject, predicate, obj) or
                                not self._known(subject, predicate, obj)):
                return self._in_view(subject, predicate, obj)
            view = {ox.NamedNode(g) for g in self.view()}
            triples = dict.fromkeys(q.triple for q in self.quads_for_pattern(
                subject, predicate, obj, None) if q.graph_name in view)
            return [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph())
                    for t in triples]
        if self._nodes.answers(subject, predicate, obj):
            return self._nodes.matching(subject, predicate, obj, graph_name)
        if isinstance(subject, ox.BlankNode) or isinstance(obj, ox.BlankNode):
            return []
        if isinstance(subject, ox.NamedNode) and predicate is None and obj is None and \
                graph_name is None:
            return self._describe(subject)
        if subject is None and predicate is None and obj is None and graph_name is None:
            return self._catalogued_quads()  # a full dump: the catalog's graphs, not the
            # engine's own (Virtuoso keeps system graphs)
        key = (subject, predicate, obj, graph_name)
        found = self._answers.get(key)
        if found is None and subject is None and predicate is not None and \
                isinstance(graph_name, ox.NamedNode):  # maybe a graph's whole column
            count, found_quads = self._in_graph(predicate, obj, graph_name)
            quads = (ox.Quad(q.subject, q.predicate, q.object, graph_name) for q in found_quads)
            if count > KEPT_MOST:
                return quads
            found = list(quads)
            self._keep(key, found)
        elif found is None:
            found = self._pattern(subject, predicate, obj, graph_name)
            self._keep(key, found)
        else:
            self._answers.move_to_end(key)
        return found

    def _keep(self, key: tuple, quads: list[ox.Quad]) -> None:
        self._answers[key] = quads
        if len(self._answers) > MAX_ANSWERS:
            self._answers.popitem(last=False)

    def prefetch(self, subjects: Iterable[str], predicates: list[ox.NamedNode]) -> None:
        """Answer `quads_for_pattern(subject, predicate)` for every pair ahead, in batches
        (the facet index asks it of thousands of terms)."""
        names = " ".join(str(p) for p in predicates)
        subjects = [s for s in subjects if any((ox.NamedNode(s), p, None, None) not in
                                               self._answers for p in predicates)]
        for chunk in _chunks(sorted(subjects)):
            found: dict[tuple, list[ox.Quad]] = {
                (ox.NamedNode(s), p, None, None): [] for s in chunk for p in predicates}
            rows = self.endpoint.solutions(
                f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {' '.join(f'<{s}>' for s in chunk)} }}"
                f" VALUES ?p {{ {names} }} GRAPH ?g {{ ?s ?p ?o }} }}")
            for row in self._named(rows):
                found[row["s"], row["p"], None, None].append(
                    ox.Quad(row["s"], row["p"], row["o"], row["g"]))
            for key, quads in found.items():
                self._keep(key, quads)

    def prefetch_view(self, subjects: Iterable[str], predicates: list[ox.NamedNode]) -> None:
        """`prefetch` for reads of the default graph (a page's labels): when merged, asked of
        the view graph alone, so each triple comes once (`GRAPH ?g` answers it twice, its
        source's and the view graph's copy); a described node's are at hand already."""
        if not self.merged:
            self.prefetch(subjects, predicates)
            return
        view = ox.DefaultGraph()
        nodes = [ox.NamedNode(s) for s in subjects]
        nodes = [s for s in nodes if s not in self._view_nodes.whole and any(
            not self._known(s, p, None) and (s, p, None, view) not in self._answers
            for p in predicates)]
        names = " ".join(str(p) for p in predicates)
        for chunk in _chunks(sorted(s.value for s in nodes)):
            found: dict[tuple, list[ox.Quad]] = {
                (ox.NamedNode(s), p, None, view): [] for s in chunk for p in predicates}
            rows = self.endpoint.solutions(
                f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {' '.join(f'<{s}>' for s in chunk)} }}"
                f" VALUES ?p {{ {names} }} GRAPH <{self.view_graph}> {{ ?s ?p ?o }} }}")
            for row in rows:
                found[row["s"], row["p"], None, view].append(
                    ox.Quad(row["s"], row["p"], row["o"], view))
            for key, quads in found.items():
                self._keep(key, quads)

    def quads_in(self, subjects: Iterable[str], predicates: list[ox.NamedNode],
                 graphs: Iterable[ox.NamedNode]) -> dict[str, list[ox.Quad]]:
        """Each subject's quads of `predicates` in `graphs` (the ontologies: the names the
        facet index gives terms), in batches of 500 subjects, a `UNION` branch per predicate:
        `VALUES ?p` over `GRAPH ?g` cost one Virtuoso 1.3 s of CPU a batch (another 0.1 s:
        its plan varies), this 0.08 s in both."""
        listed = ", ".join(sorted(str(g) for g in graphs))
        found: dict[str, list[ox.Quad]] = {}
        if not listed:
            return found
        for chunk in _chunks(sorted(set(subjects))):
            branches = " UNION ".join(f"{{ GRAPH ?g {{ ?s {p} ?o }} BIND({p} AS ?p) }}"
                                      for p in predicates)
            rows = self.endpoint.solutions(
                f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {' '.join(f'<{s}>' for s in chunk)}"
                f" }} {branches} FILTER(?g IN ({listed})) }}")
            for row in rows:
                found.setdefault(row["s"].value, []).append(
                    ox.Quad(row["s"], row["p"], row["o"], row["g"]))
        return found

    def prefetch_term_labels(self, terms: Iterable[str], term_id: ox.NamedNode,
                             term_label: ox.NamedNode) -> None:
        """Ahead of `quads_for_pattern(None, term_id, <term>)` and of each node's
        `quads_for_pattern(node, term_label, None, graph)` of the first of them: the nodes
        with a label only, which is all a reader of labels can tell apart."""
        for chunk in _chunks(sorted(terms)):
            nodes: dict[tuple, list[ox.Quad]] = {
                (None, term_id, ox.NamedNode(t), None): [] for t in chunk}
            labels: dict[tuple, list[ox.Quad]] = {}
            rows = self.endpoint.solutions(
                f"SELECT ?n ?t ?l ?g WHERE {{ VALUES ?t {{ {' '.join(f'<{t}>' for t in chunk)} }}"
                f" GRAPH ?g {{ ?n {term_id} ?t ; {term_label} ?l }} }} ORDER BY ?t ?n ?g")
            for row in self._named(rows):
                listed = nodes[None, term_id, row["t"], None]
                label_key = (row["n"], term_label, None, row["g"])
                if not listed or label_key in labels:
                    labels.setdefault(label_key, []).append(
                        ox.Quad(row["n"], term_label, row["l"], row["g"]))
                if not listed or listed[-1].subject != row["n"] or \
                        listed[-1].graph_name != row["g"]:
                    listed.append(ox.Quad(row["n"], term_id, row["t"], row["g"]))
            for key, quads in (*labels.items(), *nodes.items()):  # kept longest: the lists
                self._keep(key, quads)

    def _pattern(self, subject, predicate, obj, graph_name) -> list[ox.Quad]:
        terms = {"s": subject, "p": predicate, "o": obj, "g": graph_name}
        shown = {name: str(term) if term is not None else f"?{name}"
                 for name, term in terms.items()}
        rows = self.endpoint.solutions(
            f"SELECT * WHERE {{ GRAPH {shown['g']} {{ {shown['s']} {shown['p']} {shown['o']} "
            "} }")
        if graph_name is None:
            rows = self._named(rows)
        return [ox.Quad(row["s"] if subject is None else subject,
                        row["p"] if predicate is None else predicate,
                        row["o"] if obj is None else obj,
                        row["g"] if graph_name is None else graph_name) for row in rows]

    def triples_of(self, graph: str, predicates: Iterable[str]) -> Iterator[ox.Quad]:
        """The triples of `predicates` in `graph`, as default-graph quads (records.graph_triples:
        a facet index's segment reads a version graph's properties so): counted in one query,
        read in one more (`_constructed`). A query per predicate cost Virtuoso about 20 ms
        more each, to count as to read (20,000 tracks: 24 counts 0.48 s, one 0.02 s)."""
        listed = " ".join(str(ox.NamedNode(p)) for p in predicates)
        where = f"GRAPH {ox.NamedNode(graph)} {{ ?s ?p ?o }} VALUES ?p {{ {listed} }}"
        return self._constructed("?s ?p ?o", where, self._count(where))

    def _in_graph(self, predicate: ox.NamedNode, obj: Term, graph: ox.NamedNode
                  ) -> tuple[int, Iterator[ox.Quad]]:
        """How many triples of `graph` match `?s predicate obj`, and the triples (as
        default-graph quads, `_constructed`)."""
        shown = str(obj) if obj is not None else "?o"
        where = f"GRAPH {graph} {{ ?s {predicate} {shown} }}"
        count = self._count(where)
        return count, self._constructed(f"?s {predicate} {shown}", where, count)

    def _count(self, where: str) -> int:
        rows = self.endpoint.solutions(f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}")
        return int(next(iter(rows))["n"].value)

    def _constructed(self, template: str, where: str, count: int) -> Iterator[ox.Quad]:
        """The `count` triples `CONSTRUCT { template } WHERE { where }` makes (`where` matches
        each once), as N-Triples: a facet index reads tens of thousands of triples of a version
        graph so, which as SPARQL XML results cost Virtuoso 1.6 times the CPU to write (20,000
        tracks, the 254k triples of the properties the index reads: 6.0 s, as N-Triples 3.8 s)
        and pyoxigraph twice as much to read. In one answer when the engine gives them all,
        else in pages of LIMIT and OFFSET of at most PAGE_TRIPLES, or of the engine's row limit
        when it gives fewer (Virtuoso's ResultSetMaxRows cuts an answer short without saying
        so). The pages have no ORDER BY (Virtuoso refuses to sort past 10,000 rows of OFFSET:
        error SR353), so they are checked: their triples, together, distinct and `count`."""
        query = f"CONSTRUCT {{ {template} }} WHERE {{ {where} }}"
        page = PAGE_TRIPLES
        if count == 0:
            return
        if count <= page:
            found = self.endpoint.quads(query)
            if len(found) == count:
                yield from found
                return
            page = len(found)  # the engine's row limit
        seen: set[int] = set()
        while len(seen) < count:
            found = self.endpoint.quads(f"{query} LIMIT {page} OFFSET {len(seen)}")
            before = len(seen)
            seen.update(hash(q) for q in found)
            if not found or len(seen) - before != len(found):
                raise BackendError(502, f"the SPARQL backend's pages of {where} overlap or "
                                        f"end short of its {count} triples")
            yield from found

    def _named(self, rows: Iterable[ox.QuerySolution]) -> Iterator[ox.QuerySolution]:
        """The rows of a `GRAPH ?g` answer but the view graph's (the embedded server's named
        graphs are the sources; the view graph only merges them)."""
        return (row for row in rows if row["g"].value != self.view_graph)

    def _catalogued_quads(self) -> Iterator[ox.Quad]:
        for graph in self.catalog_graphs():
            yield from self.quads_for_pattern(None, None, None, ox.NamedNode(graph))

    def catalog_graphs(self) -> list[str]:
        """Every graph the catalog knows (see the module's docstring), read once per store."""
        if self._catalog_graphs is None:
            rows = list(self.endpoint.solutions(CATALOG_GRAPHS))
            self._catalog_graphs = sorted({row["g"].value for row in rows
                                           if row["g"] is not None})
        return self._catalog_graphs

    def prefetch_nodes(self, subjects: Iterable[str]) -> None:
        """Describe every subject not described yet in one query (a page describes the
        entities it links to: one round trip instead of one each)."""
        kept = self._view_nodes if self.merged else self._nodes
        wanted = [ox.NamedNode(s) for s in dict.fromkeys(subjects)]
        wanted = [s for s in wanted if s not in kept.nodes]
        for chunk in range(0, len(wanted), DESCRIBE_BATCH):
            self._describe_all(wanted[chunk:chunk + DESCRIBE_BATCH])

    def prefetch_page(self, iri: str, refs: Iterable[str], hops: int) -> None:
        """A resource page's first questions in one round trip, when merged: its description
        (from the view graph), the links to it (view graph, catalog), its `rdf:type` quads by
        graph (its provenance) and the entities it reaches by `refs` within `hops`, which are
        described next in one more query (the page's summary describes each, hop by hop).
        Unmerged, the page asks as it reads."""
        node = ox.NamedNode(iri)
        if not self.merged or node in self._view_nodes.whole:
            return
        predicates = ", ".join(f"<{r}>" for r in refs)
        reach = [f"x{hop}" for hop in range(1, hops + 1)] if predicates else []
        extra = PAGE_BRANCHES.format(s=node, view=self.view_graph, catalog=self.catalog,
                                     type=RDF_TYPE) + (
            _reach(node, predicates, hops, self.view_graph) if reach else "")
        rows = self._describing_rows([node], DESCRIBE_QUERY, self.view_graph, extra,
                                     [f"?{x}" for x in reach])
        found: dict[Node, set[ox.Quad]] = {node: set()}
        asked = {"in": (None, None, node, ox.DefaultGraph()),
                 "catalog": (None, None, node, ox.NamedNode(self.catalog)),
                 "type": (node, RDF_TYPE, None, None)}
        answers: dict[tuple, list[ox.Quad]] = {key: [] for key in asked.values()}
        reached: list[str] = []
        for row in rows:
            kind = row["k"]
            if kind is None:
                found.setdefault(row["s"], set()).add(
                    ox.Quad(row["s"], row["p"], row["o"], ox.DefaultGraph()))
            elif kind.value == "ref":
                reached += [row[x].value for x in reach if isinstance(row[x], ox.NamedNode)]
            elif kind.value == "type":
                if row["g"].value != self.view_graph:
                    answers[asked["type"]].append(ox.Quad(node, RDF_TYPE, row["o"], row["g"]))
            else:
                key = asked["in"] if row["g"] is None else asked["catalog"]
                answers[key].append(ox.Quad(row["s"], row["p"], node, row["g"] or
                                            ox.DefaultGraph()))
        if _lists_go_on(found):
            found = self._described_quads([node], WHOLE_LISTS_QUERY, self.view_graph)
        self._view_nodes.keep([node], found)
        for key, quads in answers.items():
            self._keep(key, quads)
        self.prefetch_nodes(sorted(set(reached) - {iri}))

    def prefetch_ancestry(self, terms: Iterable[str], predicate: ox.NamedNode,
                          graph: ox.NamedNode) -> None:
        """Ahead of `quads_for_pattern(term, predicate, None, graph)` for every term, and of
        `count(object, predicate, graph)` for every object found, in one query, then the
        labels of all of them in one more: an ontology term's ancestors, how many ancestors
        each has of its own (how specific it is) and their labels, as a page's ontology
        context reads them. (The ancestors' own ancestors, asked as rows, were ten times
        the rows and cost Virtuoso four times the CPU: 515 rows, 8.5 ms, for four terms.)"""
        keys = [(ox.NamedNode(t), predicate, None, graph) for t in dict.fromkeys(terms)]
        keys = [k for k in keys if k not in self._answers]
        found: dict[tuple, list[ox.Quad]] = {}
        for chunk in range(0, len(keys), 200):
            values = " ".join(str(k[0]) for k in keys[chunk:chunk + 200])
            rows = self.endpoint.solutions(
                f"SELECT ?t ?a (COUNT(?b) AS ?n) WHERE {{ VALUES ?t {{ {values} }} "
                f"GRAPH {graph} {{ ?t {predicate} ?a OPTIONAL {{ ?a {predicate} ?b }} }} }} "
                "GROUP BY ?t ?a")
            for key in keys[chunk:chunk + 200]:
                found.setdefault(key, [])
            if len(self._counts) > MAX_ANSWERS:
                self._counts.clear()
            for row in rows:
                found.setdefault((row["t"], predicate, None, graph), []).append(
                    ox.Quad(row["t"], predicate, row["a"], graph))
                self._counts[row["a"], predicate, graph] = int(row["n"].value)
        for key, quads in found.items():
            self._keep(key, quads)
        ancestors = {q.object.value for quads in found.values() for q in quads
                     if isinstance(q.object, ox.NamedNode)}
        self.prefetch_view(ancestors | {k[0].value for k in found}, [ox.NamedNode(RDFS_LABEL)])

    def count(self, subject: ox.NamedNode, predicate: ox.NamedNode,
              graph: ox.NamedNode) -> int:
        """How many quads match (subject, predicate, any, graph): as counted ahead by
        `prefetch_ancestry`, else read."""
        counted = self._counts.get((subject, predicate, graph))
        if counted is None:
            return len(list(self.quads_for_pattern(subject, predicate, None, graph)))
        return counted

    def _describe(self, subject: ox.NamedNode) -> list[ox.Quad]:
        """The subject's quads, in one query with those of its nested nodes and their lists
        (which are kept in `_nodes`)."""
        self._describe_all([subject], in_view=False)
        return self._nodes.nodes[subject]

    def _known(self, subject: Term, predicate: Term, obj: Term) -> bool:
        """Whether every graph's quads matching the pattern are at hand (described, asked
        ahead by `prefetch`), or it is a full read (the catalogued graphs, as unmerged)."""
        return self._nodes.answers(subject, predicate, obj) or \
            (subject, predicate, obj, None) in self._answers or \
            (subject is None and predicate is None and obj is None)

    def _in_view(self, subject: Term, predicate: Term, obj: Term) -> list[ox.Quad]:
        """The default graph's quads matching a pattern, read from the view graph alone
        (merged): the sources' triples, without the engine answering each quad twice, its
        source's and the view graph's (`GRAPH ?g`); an IRI's with its nested nodes'."""
        if self._view_nodes.answers(subject, predicate, obj):
            return self._view_nodes.matching(subject, predicate, obj)
        if isinstance(subject, ox.NamedNode) and predicate is None and obj is None:
            self._describe_all([subject], in_view=True)
            return self._view_nodes.matching(subject, predicate, obj)
        if isinstance(subject, ox.BlankNode) or isinstance(obj, ox.BlankNode):
            return []
        key = (subject, predicate, obj, ox.DefaultGraph())
        found = self._answers.get(key)
        if found is None:
            found = [ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph()) for q in
                     self._pattern(subject, predicate, obj, ox.NamedNode(self.view_graph))]
            self._keep(key, found)
        return found

    def _describe_all(self, subjects: list[ox.NamedNode], in_view: bool | None = None) -> None:
        """Describe `subjects` in the view graph (`in_view`; by default when merged: pages read
        the default graph) or in every graph."""
        in_view = self.merged if in_view is None else in_view
        kept = self._view_nodes if in_view else self._nodes
        subjects = [s for s in subjects if s not in kept.whole]
        if not subjects:
            return
        graph = self.view_graph if in_view else None
        found = self._described_quads(subjects, DESCRIBE_QUERY, graph)
        if _lists_go_on(found):
            found = self._described_quads(subjects, WHOLE_LISTS_QUERY, graph)
        kept.keep(subjects, found)

    def _describing_rows(self, subjects: list[ox.NamedNode], describing: str,
                         graph: str | None = None, extra: str = "",
                         also: Iterable[str] = ()) -> ox.QuerySolutions:
        """The describing query's rows (?s ?p ?o, and ?g unless read from `graph` alone);
        `extra`: more UNION branches (`prefetch_page`), told apart by ?k, answering the
        variables `also` besides."""
        if graph is not None:
            describing = over_graph(describing, graph)
        blocks = [describing.format(s=s, nested=json.dumps(s.value + "#"),
                                    rest=f"<{RDF_REST}>") for s in subjects]
        shown = " ".join(["?s ?p ?o", *([] if graph and not extra else ["?g"]),
                          *(["?k", *also] if extra else [])])
        return self.endpoint.solutions(
            f"SELECT DISTINCT {shown} WHERE {{\n" + "\nUNION ".join(blocks) + extra + "\n}")

    def _described_quads(self, subjects: list[ox.NamedNode], describing: str,
                         graph: str | None = None
                         ) -> dict[ox.NamedNode | ox.BlankNode, set[ox.Quad]]:
        """The describing query's quads by subject: of every graph but the view graph, or of
        `graph` alone as the default graph's."""
        rows = self._describing_rows(subjects, describing, graph)
        found: dict[ox.NamedNode | ox.BlankNode, set[ox.Quad]] = {s: set() for s in subjects}
        for row in (rows if graph else self._named(rows)):
            found.setdefault(row["s"], set()).add(ox.Quad(
                row["s"], row["p"], row["o"], ox.DefaultGraph() if graph else row["g"]))
        return found

    def contains_named_graph(self, graph: ox.NamedNode) -> bool:
        return bool(self.endpoint.solutions(f"ASK {{ GRAPH {graph} {{ ?s ?p ?o }} }}"))


def _reach(node: ox.NamedNode, predicates: str, hops: int, graph: str) -> str:
    """A UNION branch answering (?x1 … ?x{hops}, ?k "ref"): the IRIs `node` reaches in `graph`
    by one to `hops` links of the `predicates` (IRIs, comma-separated), each hop an OPTIONAL
    inside the one before. (A branch per hop, the predicate filtered at each step, cost
    Virtuoso 3-4 times the describing query; the nested OPTIONALs about 1 ms more.)"""
    walk = ""
    for hop in range(hops, 0, -1):
        source = str(node) if hop == 1 else f"?x{hop - 1}"
        step = f"{source} ?r{hop} ?x{hop} FILTER(?r{hop} IN ({predicates}))"
        walk = f"{step}{f' OPTIONAL {{ {walk} }}' if walk else ''}"
    return f'\nUNION {{ GRAPH <{graph}> {{ {walk} }} BIND("ref" AS ?k) }}'


def _lists_go_on(found: Mapping[ox.NamedNode | ox.BlankNode, set[ox.Quad]]) -> bool:
    """Whether a list node answered leads on to one not answered: a list longer than the
    describing query walks. (rdf:nil ends a list; its own quads, which no document holds, are
    not what a list's description is read for.)"""
    return any(q.predicate.value == RDF_REST and q.object != RDF_NIL and q.object not in found
               for quads in found.values() for q in quads)


class RemoteStore(TrackStore):
    """A read-only TrackStore whose quads live in the backend; `path` names the catalog state
    it was opened for (`backend/<stamp>`), which is what per-snapshot caches key on."""

    def __init__(self, endpoint: Endpoint, stamp: str, base: str | None = None,
                 merged: bool = False) -> None:
        self.ox = RemoteOx(endpoint)  # type: ignore[assignment]
        self.path = Path("backend") / stamp
        self.read_only = True
        self.base = self._stored_base() or (normalise_base(base) if base else
                                            default_base_iri())
        self.catalog = f"{self.base}graph/catalog"
        self.ox.catalog, self.ox.closure = self.catalog, closure_graph(self)
        self.ox.view_graph, self.ox.merged = view_graph(self.base), merged


class BackendReader:
    """The SnapshotReader of a server with a backend: the backend's catalog, re-read at most
    every `poll` seconds; a new `RemoteStore` when what it publishes changed."""

    def __init__(self, endpoint: Endpoint, base: str | None = None, poll: float = 2.0,
                 view_graph: bool = True) -> None:
        self.endpoint = endpoint
        self.base = base
        self.poll = poll
        self.view_graph = view_graph  # False: never the view graph, always the sources' list
        self.store_path = Path("backend")
        self._store: RemoteStore | None = None
        self._stamp = ""
        self._checked = 0.0
        self._lock = threading.Lock()

    def stamp(self) -> tuple[str, bool, list[str]]:
        """A digest of the catalog's current versions, ontologies and modification time and of
        the view graph's recorded stamp; whether the view graph is in step (its recorded stamp
        is this catalog's); and the view's sources but the closure (read from the same rows:
        current versions, ontologies)."""
        rows = list(self.endpoint.solutions(STAMP_QUERY))
        catalog, recorded = catalog_stamp(rows)
        digest = hashlib.sha1(f"{catalog} {recorded}".encode()).hexdigest()[:16]
        sources = {row["g"].value for row in rows if row["g"] is not None}
        return digest, self.view_graph and recorded == catalog, sorted(sources)

    def store(self) -> RemoteStore:
        now = time.monotonic()
        if self._store is not None and now - self._checked < self.poll:
            return self._store
        with self._lock:
            if self._store is None or time.monotonic() - self._checked >= self.poll:
                try:
                    stamp, merged, sources = self.stamp()
                except BackendError:
                    if self._store is None:
                        raise
                    stamp = self._stamp  # the backend is failing: the queries will say so
                if self._store is None or stamp != self._stamp:
                    self._store = RemoteStore(self.endpoint, stamp, self.base, merged)
                    self._store.ox.know_view(sources)
                    self._stamp = stamp
                self._checked = time.monotonic()
            return self._store
