"""RDF → FAIRtracks JSON: the inverse of `prepare`, driven by the same layout and context.

Resolved `<key>_iri` links, types and positions are mapping artefacts and are dropped; array
order comes back from `ft:position`, `*_ref` values from the last segment of the IRIs they point
at, and extension properties from their percent-encoded names.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import pyoxigraph as ox

from fairtracks_ld.mapping.context import IRI_SUFFIX, POSITION_TERM, SCHEMA_TERM
from fairtracks_ld.mapping.iris import local_id_of
from fairtracks_ld.mapping.namespaces import FT, FTX, RDF, RDF_JSON, RDF_TYPE, XSD
from fairtracks_ld.standard import Layout, document_layout

_NUMBERS = {XSD + "integer": int, XSD + "double": float, XSD + "decimal": float}
_RDF_FIRST, _RDF_REST, _RDF_NIL = RDF + "first", RDF + "rest", RDF + "nil"

Term = ox.NamedNode | ox.BlankNode | ox.Literal


class ExportError(ValueError):
    """The graph does not hold the document that was asked for."""


def python_value(term: Term) -> Any:
    """A literal's JSON value (IRIs become their string)."""
    if not isinstance(term, ox.Literal):
        return term.value
    datatype = term.datatype.value
    if datatype == RDF_JSON:
        return json.loads(term.value)
    if datatype == XSD + "boolean":
        return term.value in ("true", "1")
    if datatype in _NUMBERS:
        return _NUMBERS[datatype](term.value)
    return term.value


class GraphEdges:
    """Subject-indexed view of one named graph."""

    def __init__(self, quads: Iterable[ox.Quad]) -> None:
        self.edges: dict[Term, list[tuple[str, Term]]] = defaultdict(list)
        for quad in quads:
            self.edges[quad.subject].append((quad.predicate.value, quad.object))

    def is_list(self, term: Term) -> bool:
        """Whether the term is an rdf:List: rdf:nil, or a cell (a blank node, or the hash IRI
        the mapping names it with since lists are skolemised: both are read)."""
        if isinstance(term, ox.NamedNode) and term.value == _RDF_NIL:
            return True
        return any(predicate == _RDF_FIRST for predicate, _ in self.edges.get(term, ()))

    def rdf_list(self, head: Term) -> list[Any]:
        items = []
        while not (isinstance(head, ox.NamedNode) and head.value == _RDF_NIL):
            edges = dict(self.edges.get(head, ()))
            if _RDF_FIRST not in edges:
                raise ExportError(f"broken RDF list at {head}")
            items.append(python_value(edges[_RDF_FIRST]))
            head = edges[_RDF_REST]
        return items


def _key_of(predicate: str) -> str | None:
    """The JSON key a predicate stands for; None for mapping artefacts."""
    if predicate.startswith(FTX):
        return unquote(predicate[len(FTX):])
    if not predicate.startswith(FT):
        return None
    term = predicate[len(FT):]
    if term == POSITION_TERM or term.endswith(IRI_SUFFIX):
        return None
    return "@schema" if term == SCHEMA_TERM else term


def unread(predicate: str) -> bool:
    """Whether the export never reads `predicate` (types, `<key>_iri` links: a quarter of a
    generated version's triples), so a reader may leave its triples out."""
    return predicate == RDF_TYPE or (predicate.startswith(FT) and predicate.endswith(IRI_SUFFIX))


def _node(graph: GraphEdges, subject: Term, layout: Layout) -> dict[str, Any]:
    out: dict[str, Any] = {}
    grouped: dict[str, list[Term]] = defaultdict(list)
    for predicate, obj in graph.edges.get(subject, ()):
        if predicate == RDF_TYPE:
            continue
        key = _key_of(predicate)
        if key is None:
            continue
        if predicate.startswith(FTX):
            out[key] = python_value(obj)
        else:
            grouped[key].append(obj)
    for key, objects in grouped.items():
        prop = layout.props.get(key)
        if prop is None:
            raise ExportError(f"{subject}: ft:{key} is not a property of {layout.rdf_class}")
        if prop.kind == "entities":
            assert prop.layout is not None
            children = sorted(objects, key=lambda o: _position(graph, o))
            out[key] = [_node(graph, child, prop.layout) for child in children]
        elif prop.kind == "object":
            assert prop.layout is not None
            out[key] = _node(graph, objects[0], prop.layout)
        elif prop.kind == "map":
            out[key] = dict(_map_entry(graph, entry) for entry in objects)
        elif prop.kind == "list":
            out[key] = graph.rdf_list(objects[0])
        elif prop.kind == "ref":
            out[key] = local_id_of(objects[0].value)
        else:
            out[key] = python_value(objects[0])
    return out


def _position(graph: GraphEdges, subject: Term) -> int:
    for predicate, obj in graph.edges.get(subject, ()):
        if predicate == FT + POSITION_TERM:
            return int(obj.value)
    raise ExportError(f"{subject} has no ft:{POSITION_TERM}; cannot restore array order")


def _map_entry(graph: GraphEdges, entry: Term) -> tuple[str, str]:
    edges = dict(graph.edges.get(entry, ()))
    return edges[FT + "ontology"].value, edges[FT + "ontology_version"].value


def export_document(quads: Iterable[ox.Quad], document_iri: str) -> dict[str, Any]:
    """Rebuild the FAIRtracks document `document_iri` from the quads of its version graph."""
    graph = GraphEdges(quads)
    root = ox.NamedNode(document_iri)
    if root not in graph.edges:
        raise ExportError(f"no document {document_iri} in the graph")
    return _node(graph, root, document_layout())
