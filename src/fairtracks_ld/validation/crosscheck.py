"""pySHACL on the same shapes and data, for the tests and the benchmark (a development tool:
pySHACL is a test dependency, imported only here).

Results are compared as (focus node, result path, constraint component, severity, value,
source shape), with blank nodes and literals written as N-Triples so both engines' terms compare
equal; a blank source shape is named by its sh:path (the shapes' blank nodes differ between the
two parsers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from fairtracks_ld.validation.report import Report
from fairtracks_ld.validation.shapes import (
    PropertyPath,
    ShapesGraph,
    default_shapes,
    shape_files,
)
from fairtracks_ld.validation.vocab import RDF, SH

Key = tuple[str, PropertyPath | None, str, str, str | None, str]


def _rdflib():
    import rdflib

    rdflib.NORMALIZE_LITERALS = False  # keep lexical forms as Oxigraph does
    logging.getLogger("rdflib.term").setLevel(logging.ERROR)  # ill-typed literals are expected
    return rdflib


def load_shapes_graph(files: Iterable[Path] | None = None):
    rdflib = _rdflib()
    graph = rdflib.Graph()
    for path in files if files is not None else shape_files():
        graph.parse(path, format="turtle")
    return graph


def _term(node) -> str:
    rdflib = _rdflib()
    if isinstance(node, rdflib.BNode):
        return "_:b"
    return node.n3()


def _path(graph, node) -> PropertyPath:
    rdflib = _rdflib()
    sh = rdflib.Namespace(SH)
    if isinstance(node, rdflib.URIRef):
        return PropertyPath("iri", str(node))
    if (node, rdflib.URIRef(RDF + "first"), None) in graph:
        items = list(rdflib.collection.Collection(graph, node))
        return PropertyPath("sequence", items=tuple(_path(graph, i) for i in items))
    for kind in ("inverse", "zeroOrMore", "oneOrMore", "zeroOrOne"):
        inner = graph.value(node, sh[f"{kind}Path"])
        if inner is not None:
            return PropertyPath(kind, items=(_path(graph, inner),))
    alternatives = graph.value(node, sh.alternativePath)
    items = list(rdflib.collection.Collection(graph, alternatives))
    return PropertyPath("alternative", items=tuple(_path(graph, i) for i in items))


def pyshacl_keys(ntriples, shapes_graph=None) -> tuple[list[Key], object]:
    """Run pySHACL (SHACL-AF on, no inference) on N-Triples bytes or an rdflib graph parsed
    beforehand, and return its result keys and report graph."""
    rdflib = _rdflib()
    data = ntriples if isinstance(ntriples, rdflib.Graph) else \
        rdflib.Graph().parse(data=ntriples, format="nt")
    shapes = shapes_graph if shapes_graph is not None else load_shapes_graph()
    report = run_pyshacl(data, shapes)
    return report_keys(report, shapes), report


def run_pyshacl(data, shapes):
    """pySHACL's report graph, as the comparisons run it (SHACL-AF on, no inference)."""
    import pyshacl

    _rdflib()
    return pyshacl.validate(data, shacl_graph=shapes, advanced=True, inference="none")[1]


def report_keys(report, shapes) -> list[Key]:
    """The result keys of a pySHACL report graph (`shapes`: its rdflib shapes graph)."""
    rdflib = _rdflib()
    sh = rdflib.Namespace(SH)
    keys = []
    for result in report.objects(None, sh.result):  # not the nested sh:detail results
        path = report.value(result, sh.resultPath)
        value = report.value(result, sh.value)
        keys.append((
            _term(report.value(result, sh.focusNode)),
            _path(report, path) if path is not None else None,
            str(report.value(result, sh.sourceConstraintComponent)),
            str(report.value(result, sh.resultSeverity)),
            _term(value) if value is not None else None,
            _source(report.value(result, sh.sourceShape),
                    lambda node: shapes.value(node, sh.path), rdflib.BNode),
        ))
    return keys


def _source(shape, path_of, blank_type, text=str) -> str:
    """A source shape: its IRI, or a blank shape's sh:path (when an IRI) or "_:b"."""
    if not isinstance(shape, blank_type):
        return text(shape)
    path = path_of(shape)
    return f"_:b {text(path)}" if path is not None and not isinstance(path, blank_type) \
        else "_:b"


def engine_keys(report: Report, shapes: ShapesGraph | None = None) -> list[Key]:
    """The same keys from a fairtracks-ld report (`shapes`: where blank source shapes' paths
    are read; the shipped shapes by default)."""
    import pyoxigraph as ox

    paths = {t.subject: t.object for t in (shapes or default_shapes()).triples
             if t.predicate.value == SH + "path"}
    keys = []
    for result in report.results:
        value = result.value
        keys.append((
            "_:b" if type(result.focus).__name__ == "BlankNode" else str(result.focus),
            result.path, result.component, result.severity,
            None if value is None else ("_:b" if type(value).__name__ == "BlankNode"
                                        else str(value)),
            _source(result.source_shape, paths.get, ox.BlankNode, lambda t: t.value),
        ))
    return keys
