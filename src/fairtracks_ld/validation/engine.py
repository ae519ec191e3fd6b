"""Run compiled shapes inside Oxigraph: `validate(data, shapes) -> Report`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

import pyoxigraph as ox

from fairtracks_ld.validation.compiler import Check, Compiler, Plan, Query
from fairtracks_ld.validation.report import Report, ValidationResult
from fairtracks_ld.validation.shapes import ShapesGraph, default_shapes
from fairtracks_ld.validation.vocab import RDF, RDFS

RDF_TYPE = RDF + "type"
_TEMPLATE = re.compile(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}")
_CAP = 300_000  # counts stop here: they only choose which side a query starts from


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
    """Predicate counts and focus-set sizes, counted inside Oxigraph and capped: a query starts
    from its focus nodes when they are far fewer than the values it would otherwise scan."""

    def __init__(self, store: ox.Store, compiled: Plan, options: dict) -> None:
        self.store, self.compiled, self.options = store, compiled, options
        self.values: dict[str, int] = {}
        self.sizes: dict[tuple[int, int], int] = {}

    def _count(self, head: str, select: str, cap: int) -> int:
        query = f"{head}SELECT (COUNT(*) AS ?n) WHERE {{ {select} LIMIT {cap} }}"
        return int(next(iter(self.store.query(query, **self.options)))["n"].value)

    def start_from_focus(self, query: Query) -> bool:
        if query.join is None or query.needs is None:
            return False
        if query.needs not in self.values:
            self.values[query.needs] = self._count(
                "", f"SELECT * WHERE {{ ?s <{query.needs}> ?o }}", _CAP)
        limit = self.values[query.needs] // 3 + 1
        key = (query.group, limit)
        if key not in self.sizes:
            select = self.compiled.groups[query.group].select
            position = select.index("SELECT DISTINCT ?this")
            self.sizes[key] = self._count(select[:position], select[position:], limit)
        return self.sizes[key] < limit


def validate(
    data: ox.Store | Iterable[ox.Quad | ox.Triple],
    shapes: ShapesGraph | None = None,
    graphs: list[ox.NamedNode | ox.DefaultGraph] | None = None,
    timings: list[Timing] | None = None,
) -> Report:
    """Validate a data graph against shapes (default: the shipped FAIRtracks shapes).

    `data` is a store, whose data graph is the union of `graphs` (default: all its graphs; one
    graph is much faster to query than a union), or quads/triples. Each constraint is one
    SPARQL query over every focus node; the store is only read.
    """
    if isinstance(data, ox.Store):
        store = data
    else:
        store = ox.Store()
        store.extend(q if isinstance(q, ox.Quad) else ox.Quad(q.subject, q.predicate, q.object)
                     for q in data)
    shapes = shapes or default_shapes()
    if graphs is None:
        graphs = list(store.named_graphs())
        if not graphs or _any(store, (None, None, None), [ox.DefaultGraph()]):
            graphs.append(ox.DefaultGraph())
    options = {"default_graph": graphs}
    subclasses = _any(store, (None, ox.NamedNode(RDFS + "subClassOf"), None), graphs)
    compiled = plan(shapes, subclasses)
    report = Report()
    empty = _empty_groups(store, compiled, options, subclasses)
    seen: set[tuple] = set()
    present: dict[str, bool] = {}
    stats = _Stats(store, compiled, options)
    for query in compiled.queries:
        if query.group in empty:
            continue
        if query.needs:
            if query.needs not in present:
                present[query.needs] = _any(store, (None, ox.NamedNode(query.needs), None),
                                            graphs)
            if not present[query.needs]:
                continue
        sparql = query.join if stats.start_from_focus(query) else query.sparql
        started = time.perf_counter()
        rows = _run(store, query, sparql, options, report, seen)
        if timings is not None:
            timings.append(Timing(query, time.perf_counter() - started, rows))
    return report


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


def _run(store: ox.Store, query: Query, sparql: str, options: dict, report: Report,
         seen: set) -> int:
    solutions = store.query(sparql, **options)
    variables = [v.value for v in solutions.variables]
    rows = 0
    for row in solutions:
        rows += 1
        for check in query.checks:
            if check.flag is not None:
                flag = row[check.flag]
                if flag is None or flag.value != "true":
                    continue
            result = ValidationResult(
                focus=row["this"], path=check.path,
                value=row["value"] if query.per_value else None,
                component=check.component, severity=check.shape.severity,
                source_shape=check.shape.node, message=_message(check, row, variables),
            )
            identity = (result.key(), str(result.source_shape), result.message)
            if identity not in seen:
                seen.add(identity)
                report.results.append(result)
    return rows
