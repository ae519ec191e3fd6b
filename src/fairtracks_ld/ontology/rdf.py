"""Reader for OWL ontologies serialised as RDF (RDF/XML, Turtle, N-Triples; optionally gzipped).

Parsed with rdflib. Named classes (`owl:Class` IRIs) become terms; `rdfs:subClassOf` a named class
-> is_a, `rdfs:subClassOf [owl:onProperty BFO:0000050; owl:someValuesFrom X]` -> part_of,
`owl:equivalentClass [owl:intersectionOf (G, part_of some X)]` -> is_a G and part_of X (same
reading as OBO intersection_of), `skos:broader` -> hierarchical parent. Restrictions on other
properties (EDAM's has_topic, is_format_of, ...) are not kept. `rdfs:subClassOf
owl:DeprecatedClass` (how EDAM marks obsolete classes) sets the obsolete flag instead of a parent.
This reader also reads the bundle's own modules back.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.collection import Collection

from .annotations import ANNOTATION_PROPERTIES, apply_annotation
from .iris import canonical_iri
from .model import OntologyData, OntologySourceError, Term
from .vocab import (
    DC,
    DCTERMS,
    OBSOLETE_MARKER_CLASSES,
    OWL_CLASS,
    OWL_EQUIVALENT_CLASS,
    OWL_INTERSECTION_OF,
    OWL_ON_PROPERTY,
    OWL_ONTOLOGY,
    OWL_SOME_VALUES_FROM,
    OWL_THING,
    OWL_VERSION_INFO,
    OWL_VERSION_IRI,
    PART_OF,
    RDF_TYPE,
    RDFS_SUBCLASS_OF,
)

DOAP_VERSION = "http://usefulinc.com/ns/doap#Version"
RDFLIB_FORMATS = {"rdfxml": "xml", "turtle": "turtle", "ntriples": "nt"}


def read_rdf(path: Path, syntax: str) -> OntologyData:
    """Read an RDF serialisation; `syntax` is one of `RDFLIB_FORMATS`."""
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    graph = rdflib.Graph()
    try:
        graph.parse(data=raw, format=RDFLIB_FORMATS[syntax], publicID=path.resolve().as_uri())
    except Exception as error:  # rdflib raises parser-specific errors; name file and line
        raise OntologySourceError(
            path, f"invalid {syntax}: {_message(error)}", _line(error)
        ) from error
    return graph_to_ontology(graph, path, syntax)


def graph_to_ontology(graph: rdflib.Graph, path: Path, syntax: str) -> OntologyData:
    """Extract header and classes from a parsed graph."""
    data = _empty_ontology(graph, path, syntax)
    classes = sorted(
        s for s in graph.subjects(URIRef(RDF_TYPE), URIRef(OWL_CLASS)) if isinstance(s, URIRef)
    )
    for subject in classes:
        term = data.term(canonical_iri(str(subject)))
        for prop, value in sorted(graph.predicate_objects(subject)):
            _apply(graph, data, term, str(prop), value)
    return data


def _apply(graph: rdflib.Graph, data: OntologyData, term: Term, prop: str, value: object) -> None:
    if prop == RDFS_SUBCLASS_OF:
        if isinstance(value, URIRef):
            _add_parent(term, str(value))
        elif isinstance(value, BNode):
            _add_restriction(graph, term, value)
    elif prop == OWL_EQUIVALENT_CLASS:
        if isinstance(value, URIRef):
            term.add("equivalents", str(value))
        elif isinstance(value, BNode):
            members = graph.value(value, URIRef(OWL_INTERSECTION_OF))
            for member in Collection(graph, members) if members is not None else []:
                if isinstance(member, URIRef):
                    _add_parent(term, str(member))
                elif isinstance(member, BNode):
                    _add_restriction(graph, term, member)
    elif prop in ANNOTATION_PROPERTIES:
        lang = value.language if isinstance(value, Literal) else None
        if not apply_annotation(term, prop, str(value), lang):
            data.count("unresolved_references")


def _add_parent(term: Term, iri: str) -> None:
    if iri in OBSOLETE_MARKER_CLASSES:
        term.obsolete = term.obsolete or iri != OWL_THING
        return
    term.add("is_a", canonical_iri(iri))


def _add_restriction(graph: rdflib.Graph, term: Term, node: BNode) -> None:
    prop = graph.value(node, URIRef(OWL_ON_PROPERTY))
    filler = graph.value(node, URIRef(OWL_SOME_VALUES_FROM))
    if str(prop) == PART_OF and isinstance(filler, URIRef):
        term.add("part_of", canonical_iri(str(filler)))


def _empty_ontology(graph: rdflib.Graph, path: Path, syntax: str) -> OntologyData:
    ontologies = sorted(
        s for s in graph.subjects(URIRef(RDF_TYPE), URIRef(OWL_ONTOLOGY)) if isinstance(s, URIRef)
    )
    ontology = ontologies[0] if ontologies else None

    def value(*props: str) -> str | None:
        for prop in props:
            found = graph.value(ontology, URIRef(prop)) if ontology is not None else None
            if found is not None:
                return str(found)
        return None

    key = re.match(r"[A-Za-z]*", path.name).group(0).lower() or "ontology"  # type: ignore[union-attr]
    return OntologyData(
        key=key,
        ontology_iri=str(ontology) if ontology is not None else path.resolve().as_uri(),
        version_iri=value(OWL_VERSION_IRI),
        version=value(OWL_VERSION_INFO, DOAP_VERSION),
        source_path=path,
        source_format=syntax,
        title=value(DCTERMS + "title", DC + "title"),
    )


_LOCATED = re.compile(r"^\S*?:(\d+):\d+: (.*)$", re.S)  # rdflib RDF/XML: "<id>:18:2: reason"


def _line(error: Exception) -> int | None:
    method = getattr(error, "getLineNumber", None)  # SAX parse errors
    if callable(method):
        return int(method())
    lines = getattr(error, "lines", None)  # rdflib's Turtle BadSyntax: 0-based line index
    if isinstance(lines, int):
        return lines + 1
    located = _LOCATED.match(str(error))
    return int(located.group(1)) if located else None


def _message(error: Exception) -> str:
    why = getattr(error, "_why", None)  # BadSyntax keeps the reason apart from its long repr
    if why:
        return str(why)
    method = getattr(error, "getMessage", None)
    if callable(method):
        return str(method())
    located = _LOCATED.match(str(error))
    return located.group(2) if located else str(error)
