"""Run compiled shapes inside Oxigraph: `validate(data, shapes) -> Report`."""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

import pyoxigraph as ox

from fairtracks_ld import heap
from fairtracks_ld.graph_removal import remove_graph
from fairtracks_ld.validation import prebound
from fairtracks_ld.validation.compiler import (
    VALUE,
    VALUES_GRAPH,
    Check,
    Closed,
    Compiler,
    Plan,
    Query,
)
from fairtracks_ld.validation.prebound import SHAPES_GRAPH
from fairtracks_ld.validation.report import Report, ValidationResult
from fairtracks_ld.validation.shapes import (
    PropertyPath,
    ShapesGraph,
    UnsupportedShape,
    default_shapes,
)
from fairtracks_ld.validation.vocab import RDF, RDFS, SH

RDF_TYPE = RDF + "type"
_TEMPLATE = re.compile(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}")
_SMALL = 150_000  # focus sets this large are scanned from the path side (counts stop here)
_VALUES_CAP = 450_000
# triples of a path a hash anti-join (sh:minCount 1, `Query.factor` < 1) may hold at once: beyond
# it the focus nodes are looked up one by one instead, in memory that does not grow with the
# document (200k tracks: ft:term_id's 520k triples hashed added 176 MB to the peak RSS, 1M
# tracks would add ~0.9 GB; bench/results/validation-memory-kept-200000-main.md)
_HASHED = 250_000
_ROUTES_ONE_BY_ONE = 2000  # nested results whose routes are counted focus node by node
_CLOSED_UNION = 64  # sh:closed reads at most this many disallowed predicates one by one
_EVERY = 12  # predicates to count: from this many, one grouped scan counts every predicate
_THREADS = 4
_TRIM_AFTER = 1.0  # seconds of a query after which the heap is trimmed
TIME_LIMIT = 60.0  # seconds for the SPARQL of the shapes that runs per focus node
SPARQL_COMPONENT = SH + "SPARQLConstraintComponent"


@dataclass
class Timing:
    """Seconds spent per query (for benchmarks and slow-shape hunting)."""

    query: Query
    seconds: float
    rows: int


def plan(shapes: ShapesGraph, subclasses: bool) -> Plan:
    """The compiled plan of a shapes graph (cached on it, per mode)."""
    cache = shapes.__dict__.setdefault("_plans", {})
    if subclasses not in cache:
        cache[subclasses] = Compiler(shapes, subclasses).compile()
    return cache[subclasses]


def _message(check: Check, row: ox.QuerySolution, variables: list[str]) -> str | None:
    if not check.messages:
        return None
    values = {name: row[name] for name in variables if row[name] is not None}

    def fill(match: re.Match) -> str:
        value = values.get(match.group(1))
        return value.value if value is not None else match.group(0)

    return _TEMPLATE.sub(fill, check.messages[0])


def _any(store: ox.Store, pattern: tuple, graphs: list) -> bool:
    return any(True for graph in graphs
               for _ in islice(store.quads_for_pattern(*pattern, graph), 1))


class _Stats:
    """Focus-set sizes and predicate counts, counted inside Oxigraph and capped (they only
    choose where a query starts): from its focus nodes when they are far fewer than the values
    it would otherwise scan, from the rarer predicate of a pair. Where many predicates are
    needed (sh:closed needs them all), every predicate is counted in one scan instead."""

    def __init__(self, store: ox.Store, compiled: Plan, options: dict,
                 every: dict[str, int] | None = None) -> None:
        self.store, self.compiled, self.options = store, compiled, options
        self.sizes: dict[int, int] = {}  # group -> focus nodes counted (up to counted[group])
        self.counted: dict[int, int] = {}
        self.values: dict[str, tuple[int, bool]] = {}  # predicate -> (count, exact)
        self.every = every  # every predicate's count, when counted

    def count_every(self) -> dict[str, int]:
        """Every predicate of the data graph and its number of triples (one scan)."""
        if self.every is None:
            rows = self.store.query("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p",
                                    **self.options)
            self.every = {row["p"].value: int(row["n"].value) for row in rows}
            self.values.update((p, (n, True)) for p, n in self.every.items())
        return self.every

    def _count(self, head: str, select: str, cap: int) -> int:
        query = f"{head}SELECT (COUNT(*) AS ?n) WHERE {{ {select} LIMIT {cap} }}"
        return int(next(iter(self.store.query(query, **self.options)))["n"].value)

    def _focus_below(self, group: int, limit: int) -> bool:
        """Whether the shape has fewer than `limit` focus nodes (counted up to `limit`; when
        a larger limit is asked again, up to four times the last count, so that the queries of
        one shape, asking with different limits, do not count over and over)."""
        known = self.sizes.get(group)
        if known is None or (known >= self.counted.get(group, 0) and self.counted[group] < limit):
            select = self.compiled.groups[group].select
            position = select.index("SELECT DISTINCT ?this")
            body = select[position:].replace("SELECT DISTINCT ?this", "SELECT ?this", 1)
            cap = limit if known is None else max(limit, min(4 * self.counted[group], _SMALL))
            known = self._count(select[:position], body, cap)
            self.sizes[group], self.counted[group] = known, cap
        return known < limit

    def _values(self, predicate: str) -> int:
        if self.every is not None:
            return self.every.get(predicate, 0)
        if predicate not in self.values:
            count = self._count("", f"SELECT * WHERE {{ ?s <{predicate}> ?o }}", _VALUES_CAP)
            self.values[predicate] = (count, count < _VALUES_CAP)
        return self.values[predicate][0]

    def repeated(self, predicate: str) -> bool:
        """Whether some subject has more than one triple of the predicate (a count of its
        triples and of their distinct subjects: a third of what grouping them costs)."""
        query = (f"SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?s) AS ?d) WHERE {{ ?s <{predicate}> "
                 "?o }")
        row = next(iter(self.store.query(query, **self.options)))
        return row["n"].value != row["d"].value

    def start_from_focus(self, query: Query) -> bool:
        if query.join is None or (query.scans or query.needs) is None:
            return False
        if query.factor < 1 and self._values(query.scans or query.needs) > _HASHED:
            return True  # the hash anti-join would hold every triple of the path at once
        return self.small_focus(query)

    def small_focus(self, query: Query, scanned: int | None = None) -> bool:
        """Whether the focus set is `factor` times smaller than the path's values."""
        if scanned is None:
            predicate = query.scans or query.needs
            assert predicate is not None
            scanned = self._values(predicate)
        limit = min(_SMALL, int(scanned / query.factor))
        return limit > 0 and self._focus_below(query.group, limit)

    def share_form(self, query: Query) -> str:
        """The form of a value set to materialise: from the focus nodes when they are few;
        every holder's values when the path's triples are at most half again the focus nodes
        (a superset, joined with the focus nodes by its readers, costs less than testing
        every holder); else the path's values with each holder tested."""
        assert query.values is not None
        if self.small_focus(query):
            return query.values.join
        predicate = query.scans or query.needs
        if predicate is not None:
            limit = -(-2 * self._values(predicate) // 3)
            if limit <= 0 or not self._focus_below(query.group, limit):
                return query.values.loose
        return query.values.scan

    def choose(self, query: Query) -> str | None:
        """The form of a query to run (None: nothing to check)."""
        if query.closed is not None:
            return self.closed(query, query.closed)
        if self.start_from_focus(query):
            return query.join
        if query.repeats is not None and not self.repeated(query.repeats):
            return None  # (a scan of the predicate: only where the query would scan it too)
        if query.swap is not None and query.needs is not None \
                and self._values(query.swap[0]) < self._values(query.needs):
            return query.swap[1]
        return query.sparql

    def closed(self, query: Query, closed: Closed) -> str | None:
        """sh:closed over the triples of the predicates the shape does not allow (a UNION of
        scans: their subjects tested for membership, or hash-joined with the focus nodes), or
        from the focus nodes when they are far fewer; None when no such predicate."""
        counts = self.count_every()
        other = sorted(p for p in counts if p not in closed.allowed)
        if not other:
            return None
        rows = sum(counts[p] for p in other)
        if len(other) > _CLOSED_UNION or self.small_focus(query, rows):
            return query.sparql
        union = " UNION ".join(f"{{ ?this <{p}> ?value BIND(<{p}> AS ?_path) }}" for p in other)
        # a hash join with the focus nodes when they are fewer than those triples
        form = closed.hashed if self._focus_below(query.group, rows) else closed.pattern
        return form.replace("{PATTERN}", union)


def validate(
    data: ox.Store | Iterable[ox.Quad | ox.Triple],
    shapes: ShapesGraph | None = None,
    graphs: list[ox.NamedNode | ox.DefaultGraph] | None = None,
    timings: list[Timing] | None = None,
    scratch: bool | None = None,
    time_limit: float | None = TIME_LIMIT,
) -> Report:
    """Validate a data graph against shapes (default: the shipped FAIRtracks shapes).

    `data` is a store, whose data graph is the union of `graphs` (default: all its graphs; one
    graph is much faster to query than a union), or quads/triples. Each constraint is one
    SPARQL query over every focus node. With `scratch` (default: only when the engine builds
    the store itself) the engine may write a working graph into the store, removed before it
    returns: the distinct values SPARQL constraints share are then computed once.
    SPARQL that runs per focus node stops after `time_limit` seconds (`SparqlTimeout`); None
    sets no limit (the shipped shapes, whose time grows with the document, not with hostile
    SPARQL).
    """
    owned = not isinstance(data, ox.Store)
    counts = None
    if isinstance(data, ox.Store):
        store = data
    else:
        store, counts = _store(data)
    scratch = owned if scratch is None else scratch
    shapes = shapes or default_shapes()
    # results allocate many small objects; cyclic GC over a caller's big document (held in
    # memory) would cost seconds and free nothing
    with heap.no_cycle_collection():
        return _validate(store, shapes, graphs, timings, scratch,
                         math.inf if time_limit is None else time.monotonic() + time_limit,
                         counts)


def _store(data: Iterable[ox.Quad | ox.Triple]) -> tuple[ox.Store, dict[str, int]]:
    """An in-memory store of quads, and the number of triples of each predicate (counted
    here, where it costs less than a scan of the store)."""
    quads = data if isinstance(data, list) else list(data)
    store = ox.Store()
    try:
        store.extend(quads)  # measured cheaper in CPU than bulk_extend in memory
    except TypeError:  # triples among the quads
        store = ox.Store()
        store.extend(q if isinstance(q, ox.Quad) else ox.Quad(q.subject, q.predicate,
                                                               q.object) for q in quads)
    counts = Counter(q.predicate for q in quads)
    return store, {p.value: n for p, n in counts.items()}


def _validate(store: ox.Store, shapes: ShapesGraph, graphs: list | None,
              timings: list[Timing] | None, scratch: bool, deadline: float,
              counts: dict[str, int] | None = None) -> Report:
    values_graph = ox.NamedNode(VALUES_GRAPH)
    shapes_graph = ox.NamedNode(SHAPES_GRAPH)
    if graphs is None:
        graphs = [g for g in store.named_graphs() if g not in (values_graph, shapes_graph)]
        if not graphs or _any(store, (None, None, None), [ox.DefaultGraph()]):
            graphs.append(ox.DefaultGraph())
    options = {"default_graph": graphs}
    subclasses = _any(store, (None, ox.NamedNode(RDFS + "subClassOf"), None), graphs)
    compiled = plan(shapes, subclasses)
    report = Report()
    seen: set[tuple] = set()
    nested: list[tuple[ValidationResult, int]] = []  # results of nested property shapes
    stats = _Stats(store, compiled, options, counts)
    # value sets are shared through an update reading `graphs`: named graphs (USING), or the
    # store's default graph alone (an update's own)
    sharable = all(isinstance(g, ox.NamedNode) for g in graphs) or graphs == [ox.DefaultGraph()]
    # Oxigraph evaluates queries without the GIL for much of the time: a few threads help
    workers = max(2, min(_THREADS, os.cpu_count() or 1))
    shared: dict[int, Query] = {}
    reads_shapes = False
    try:
        with ThreadPoolExecutor(workers) as pool:
            # sh:closed needs every predicate's count, and so many to count cost less in one
            # grouped scan of the data (measured 1.5 s vs 2.3 s on 4.4M triples): counted
            # while the shapes without focus nodes are found
            every = pool.submit(stats.count_every) if counts is None and (
                len(_counted(compiled.queries)) >= _EVERY
                or any(q.closed is not None for q in compiled.queries)) else None
            empty = _empty_groups(store, compiled, options, subclasses)
            if every is not None:
                every.result()
            runnable = _runnable(store, compiled, empty, stats.every, graphs)
            reads_shapes = any(q.prebound is not None and q.prebound.reads_shapes
                               for q in runnable)
            if reads_shapes:  # $shapesGraph: the shapes as a named graph, removed afterwards
                store.extend(ox.Quad(t.subject, t.predicate, t.object, shapes_graph)
                             for t in shapes.triples)

            def choose(query: Query) -> str | None:
                if scratch and sharable and query.values is not None and query.shared is not None:
                    return query.shared
                return stats.choose(query)

            chosen = list(pool.map(choose, runnable))
            runnable, chosen = ([q for q, s in zip(runnable, chosen, strict=True) if s],
                                [s for s in chosen if s])
            for query, sparql in zip(runnable, chosen, strict=True):
                if sparql is query.shared and query.values is not None:
                    shared.setdefault(query.values.key, query)
            # the value sets are written before the queries, one after another in this thread,
            # each flushed: written while the queries ran, they stayed in RocksDB's write
            # buffers until the pool was done (a 1M-track document's 1.36M values: its load's
            # RSS rose 735 MB in 30 s as the queries started, and validation peaked at 2,278 MB,
            # 942 MB since; bench/results/load-memory.md); a flush in a pool thread beside the
            # queries hung (see _share)
            for query in shared.values():
                _share(store, query, stats.share_form(query), graphs)
                store.flush()
            heap.trim()  # the buffers' memory, freed in this thread's malloc arena

            def run(query: Query, sparql: str) -> tuple[tuple[list[str], list], float]:
                found = _rows(store, query, sparql, options, compiled, deadline)
                if found[1] > _TRIM_AFTER:  # what a long query freed, kept by glibc in its
                    heap.trim()             # thread's arena (a trim: ~10-200 ms)
                return found

            outcomes = list(pool.map(run, runnable, chosen))
        for query, (rows, seconds) in zip(runnable, outcomes, strict=True):
            _collect(query, rows, report, seen, compiled, nested)
            if timings is not None:
                timings.append(Timing(query, seconds, len(rows[1])))
        _repeat_per_route(store, compiled, report, options, nested)
    finally:
        if shared:  # in bounded transactions: at 1M tracks the sets held ~1.7 GB of deletions
            remove_graph(store, VALUES_GRAPH, stage="removing-scratch")
        if reads_shapes:
            remove_graph(store, SHAPES_GRAPH, stage="removing-scratch")
        if shared or reads_shapes:
            store.flush()  # the value sets' writes and their removal (see _share)
    return report


def _counted(queries: list[Query]) -> set[str]:
    """The predicates whose counts may choose the form of these queries."""
    return {p for q in queries for p in (q.scans or q.needs if q.join is not None else None,
                                         q.swap[0] if q.swap is not None else None) if p}


def _runnable(store: ox.Store, compiled: Plan, empty: set[int], counts: dict[str, int] | None,
              graphs: list) -> list[Query]:
    """The queries that may find something: their shape has focus nodes and the predicate
    they need occurs in the data."""
    present: dict[str, bool] = {}
    runnable = []
    for query in compiled.queries:
        if query.group in empty:
            continue
        if query.needs:
            if counts is not None:
                present[query.needs] = query.needs in counts
            elif query.needs not in present:
                present[query.needs] = _any(store, (None, ox.NamedNode(query.needs), None),
                                            graphs)
            if not present[query.needs]:
                continue
        runnable.append(query)
    return runnable


_SHARE_BATCH = 50_000  # values written per transaction when a value set is materialised
_SHARE_FLUSH = 200_000  # values of a set written between flushes of RocksDB's write buffers


def _share(store: ox.Store, query: Query, select: str, graphs: list) -> None:
    """Materialise the distinct values of a query's path (`select`: a form of them), in
    transactions of `_SHARE_BATCH` values: one INSERT … WHERE update held every value of a
    large document's set in one transaction (200k tracks: +245 MB). What transactions write
    stays in RocksDB's write buffers (128 MB per column family) until a buffer fills or is
    flushed (500k values written 50k a transaction: +420 MB RSS, ~0 once flushed;
    bench/results/load-memory.md), but a flush here, in a pool thread while the other
    queries run, hung in RocksDB's condition wait in 4 of 6 runs of
    tests/test_validation_mirror.py: `_validate` calls this in its own thread before any
    query runs, and the buffers are flushed every `_SHARE_FLUSH` values and after each set."""
    assert query.values is not None
    subject = ox.NamedNode(f"{VALUES_GRAPH}:{query.values.key}")
    predicate, graph = ox.NamedNode(VALUE), ox.NamedNode(VALUES_GRAPH)
    quads = (ox.Quad(subject, predicate, row["value"], graph)
             for row in store.query(select, default_graph=graphs))
    written = 0
    while batch := list(islice(quads, _SHARE_BATCH)):
        store.extend(batch)
        written += len(batch)
        if written % _SHARE_FLUSH == 0:
            store.flush()


def _empty_groups(store: ox.Store, compiled: Plan, options: dict, subclasses: bool) -> set[int]:
    """Shapes without focus nodes: none of their constraints needs to run."""
    empty = set()
    graphs = options["default_graph"]
    for index, group in enumerate(compiled.groups):
        targets = group.shape.targets
        if not subclasses and all(t.kind in ("class", "subjectsOf", "objectsOf")
                                  for t in targets):
            found = any(_any(store, (None, ox.NamedNode(RDF_TYPE), t.value) if t.kind == "class"
                             else (None, t.value, None), graphs) for t in targets)
        else:
            found = bool(store.query(group.select.replace("SELECT DISTINCT ?this WHERE",
                                                          "ASK WHERE", 1), **options))
        if not found:
            empty.add(index)
    return empty


def _rows(store: ox.Store, query: Query, sparql: str, options: dict, compiled: Plan,
          deadline: float) -> tuple[tuple[list[str], list], float]:
    """Evaluate one query (in a worker thread): its variables and solutions, and the time."""
    started = time.perf_counter()
    if query.prebound is not None:
        try:
            found = prebound.run(store, query.prebound, compiled.groups[query.group].select,
                                 options, deadline)
            return found, time.perf_counter() - started
        except (prebound.SparqlTimeout, UnsupportedShape) as error:
            # raised again without the frames holding this thread's query iterators, which
            # Oxigraph does not allow to be dropped on another thread
            failure = (type(error), str(error))
        raise failure[0](failure[1])
    solutions = store.query(sparql, **options)
    variables = [v.value for v in solutions.variables]
    if any(c.component == SPARQL_COMPONENT for c in query.checks):  # user SPARQL: time limit
        rows = []
        for row in solutions:
            rows.append(row)
            if len(rows) % 1000 == 0 and time.monotonic() > deadline:
                failure = "SPARQL in the shapes ran longer than the time limit"
                break
        else:
            return (variables, rows), time.perf_counter() - started
        del solutions, row  # dropped in this thread (Oxigraph's iterators are unsendable)
        raise prebound.SparqlTimeout(failure)
    rows = list(solutions)
    return (variables, rows), time.perf_counter() - started


def _collect(query: Query, rows: tuple[list[str], list[ox.QuerySolution]], report: Report,
             seen: set, compiled: Plan, nested: list) -> None:
    variables, solutions = rows
    for row in solutions:
        for check in query.checks:
            if check.flag is not None:
                flag = row[check.flag]
                if flag is None or flag.value != "true":
                    continue
            path, value = check.path, row["value"] if query.per_value else None
            if "_path" in variables and row["_path"] is not None:  # sh:closed, ?path
                path = PropertyPath("iri", row["_path"].value)
            if "validator" in check.constraint.params or check.component == SPARQL_COMPONENT:
                value, path = _sparql_terms(check, row, variables, path)
            result = ValidationResult(
                focus=row["this"], path=path, value=value,
                component=check.component, severity=check.shape.severity,
                source_shape=check.shape.node, message=_message(check, row, variables),
            )
            # one result per constraint (a shape may have two sh:class), per ?_key where a
            # query tells results of one focus node apart (sh:uniqueLang: per language), and
            # per group (a property shape nested under two parents checks twice)
            key = row["_key"] if "_key" in variables else None
            identity = (result.key(), str(result.source_shape), result.message,
                        id(check.constraint), key, query.group)
            if identity not in seen:
                seen.add(identity)
                report.results.append(result)
                if compiled.groups[query.group].parent is not None:
                    nested.append((result, query.group))


def _sparql_terms(check: Check, row, variables: list[str], path: PropertyPath | None) -> tuple:
    """SHACL 5.3.2 for SPARQL results: sh:value is ?value, else a node shape's focus node; a
    node shape's result path is ?path when it is an IRI."""
    value = row["value"] if "value" in variables else None
    if value is None and check.shape.path is None:
        value = row["this"]
    found = row["path"] if "path" in variables else None
    if check.shape.path is None and isinstance(found, ox.NamedNode):
        path = PropertyPath("iri", found.value)
    return value, path


def _repeat_per_route(store: ox.Store, compiled: Plan, report: Report, options: dict,
                      nested: list[tuple[ValidationResult, int]]) -> None:
    """A nested property shape validates each value node once per route to it (each parent
    focus node, itself reached once per route): its results repeat as many times (SHACL
    validates the value node again for every parent). Few results: their focus nodes' routes
    are counted one by one; many: every focus node reached more than once is listed."""
    routes: dict[int, dict] = {}
    counted: dict[tuple, int] = {}
    one_by_one = len({(r.focus, g) for r, g in nested}) <= _ROUTES_ONE_BY_ONE
    for result, group in nested:
        if one_by_one:
            times = _route_count(store, compiled, options, counted, group, result.focus)
        else:
            times = _routes(store, compiled, options, routes, group).get(result.focus, 1)
        report.results.extend([result] * (times - 1))


def _route_count(store: ox.Store, compiled: Plan, options: dict, counted: dict[tuple, int],
                 group: int, node) -> int:
    """The routes to one focus node of a group: the sum of its parent focus nodes' routes."""
    spec = compiled.groups[group]
    if spec.parent is None or spec.holders is None:
        return 1
    if (group, node) not in counted:
        rows = store.query(spec.holders, substitutions={ox.Variable("this"): node}, **options)
        counted[group, node] = sum(_route_count(store, compiled, options, counted, spec.parent,
                                                row["_holder"]) for row in rows)
    return counted[group, node]


def _routes(store: ox.Store, compiled: Plan, options: dict, routes: dict[int, dict],
            group: int) -> dict:
    """The focus nodes of a group reached by more than one route, with their number of routes
    (memoised in `routes`; every other focus node has one): the nodes reached from several
    parent focus nodes, counted in Oxigraph, then the nodes of the parent focus nodes that are
    themselves reached several times.

    A module function, not a closure calling itself: such a closure is a reference cycle that
    keeps the store open until the garbage collector runs."""
    if group not in routes:
        spec = compiled.groups[group]
        found: dict = {}
        if spec.parent is not None and spec.routes is not None and spec.reach is not None:
            above = _routes(store, compiled, options, routes, spec.parent)
            for row in store.query(spec.routes, **options):
                found[row["this"]] = int(row["_n"].value)
            holder = ox.Variable("_holder")
            for parent, times in above.items():
                for row in store.query(spec.reach, substitutions={holder: parent}, **options):
                    found[row["this"]] = found.get(row["this"], 1) + times - 1
        routes[group] = found
    return routes[group]
