"""Run compiled shapes inside Oxigraph: `validate(data, shapes) -> Report`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from fairtracks_ld.validation.compiler import FOCUS, FOCUS_GRAPH, Check, Compiler, Plan, Query
from fairtracks_ld.validation.report import Report, ValidationResult
from fairtracks_ld.validation.shapes import ShapesGraph, default_shapes
from fairtracks_ld.validation.vocab import RDFS, XSD

_TEMPLATE = re.compile(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Timing:
    """Seconds spent per query (for benchmarks and slow-shape hunting)."""

    query: Query
    seconds: float
    rows: int


def plan(shapes: ShapesGraph, subclasses: bool, materialised: bool) -> Plan:
    """The compiled plan of a shapes graph (cached on it, per mode)."""
    cache = shapes.__dict__.setdefault("_plans", {})
    key = (subclasses, materialised)
    if key not in cache:
        cache[key] = Compiler(shapes, subclasses, materialised).compile()
    return cache[key]


def _message(check: Check, row: ox.QuerySolution, variables: list[str]) -> str | None:
    if not check.messages:
        return None
    values = {name: row[name] for name in variables if row[name] is not None}

    def fill(match: re.Match) -> str:
        value = values.get(match.group(1))
        return value.value if value is not None else match.group(0)

    return _TEMPLATE.sub(fill, check.messages[0])


def _occurs(store: ox.Store, predicate: str, graphs: list) -> bool:
    node = ox.NamedNode(predicate)
    for graph in graphs:
        for _ in store.quads_for_pattern(None, node, None, graph):
            return True
    return False


def validate(
    data: ox.Store | Iterable[ox.Quad | ox.Triple],
    shapes: ShapesGraph | None = None,
    graphs: list[ox.NamedNode | ox.DefaultGraph] | None = None,
    scratch: bool | None = None,
    timings: list[Timing] | None = None,
) -> Report:
    """Validate a data graph against shapes (default: the shipped FAIRtracks shapes).

    `data` is a store, whose data graph is the union of `graphs` (default: all its graphs), or
    quads/triples. With `scratch` (default: only when the engine builds the store itself) the
    engine may add a graph of focus nodes to the store, which makes conditional and
    variant-specific shapes cheaper; it is removed before returning.
    """
    owned = not isinstance(data, ox.Store)
    if owned:
        store = ox.Store()
        store.extend(q if isinstance(q, ox.Quad) else ox.Quad(q.subject, q.predicate, q.object)
                     for q in data)
    else:
        store = data  # type: ignore[assignment]
    scratch = owned if scratch is None else scratch
    shapes = shapes or default_shapes()
    focus_graph = ox.NamedNode(FOCUS_GRAPH)
    if graphs is None:
        graphs = [g for g in store.named_graphs() if g != focus_graph]
        if not graphs or any(True for _ in store.quads_for_pattern(None, None, None,
                                                                   ox.DefaultGraph())):
            graphs.append(ox.DefaultGraph())
    options = {"default_graph": graphs}
    subclasses = bool(store.query(f"ASK {{ ?a <{RDFS}subClassOf> ?b }}", **options))
    compiled = plan(shapes, subclasses, scratch)
    report = Report()
    try:
        empty = _prepare_groups(store, compiled, scratch, options)
        seen: set[tuple] = set()
        for query in compiled.queries:
            if query.group in empty or (query.needs and not _occurs(store, query.needs,
                                                                    graphs)):
                continue
            started = time.perf_counter()
            rows = _run(store, query, options, report, seen)
            if timings is not None:
                timings.append(Timing(query, time.perf_counter() - started, rows))
    finally:
        if scratch and store.contains_named_graph(focus_graph):
            store.remove_graph(focus_graph)
    return report


def _prepare_groups(store: ox.Store, compiled: Plan, scratch: bool, options: dict) -> set[int]:
    """Materialise SPARQL-target focus nodes (scratch stores) and find empty focus sets."""
    empty = set()
    focus, focus_graph = ox.NamedNode(FOCUS), ox.NamedNode(FOCUS_GRAPH)
    for index, group in enumerate(compiled.groups):
        if scratch and group.materialise:
            marker = ox.Literal(str(index), datatype=ox.NamedNode(XSD + "integer"))
            graphs = options["default_graph"]
            if all(isinstance(g, ox.NamedNode) for g in graphs):
                head, _, body = group.select.partition("SELECT DISTINCT ?this WHERE")
                using = "".join(f"USING <{g.value}> " for g in graphs)
                store.update(f"{head}INSERT {{ GRAPH <{FOCUS_GRAPH}> {{ ?this <{FOCUS}> "
                             f"{marker} }} }} {using}WHERE {body}")
            else:
                store.extend(ox.Quad(row["this"], focus, marker, focus_graph)
                             for row in store.query(group.select, **options))
            if not any(True for _ in store.quads_for_pattern(None, focus, marker, focus_graph)):
                empty.add(index)
        elif not store.query(group.select.replace("SELECT DISTINCT ?this WHERE", "ASK WHERE"),
                             **options):
            empty.add(index)
    return empty


def _run(store: ox.Store, query: Query, options: dict, report: Report, seen: set) -> int:
    solutions = store.query(query.sparql, **options)
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
