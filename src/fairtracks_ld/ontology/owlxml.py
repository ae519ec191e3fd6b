"""Reader for the OWL/XML syntax (`<Ontology xmlns="http://www.w3.org/2002/07/owl#">`).

rdflib cannot read OWL/XML and owlready2 would add a large dependency (its own quadstore) for the
few axiom types needed here, so this walks the XML with ElementTree:

- `Declaration(Class)` -> term; `SubClassOf(C, D)` -> is_a; `SubClassOf(C, ObjectSomeValuesFrom(
  BFO:0000050, D))` -> part_of; `EquivalentClasses(C, D)` -> equivalent IRI;
  `EquivalentClasses(C, ObjectIntersectionOf(G, part_of some D))` -> is_a G, part_of D.
- `AnnotationAssertion`s with the properties in `annotations` (label, definition, synonyms,
  deprecated, replaced_by, consider, skos:broader).
- IRIs from `IRI` (resolved against xml:base / the ontology IRI) or `abbreviatedIRI` (via `Prefix`).
Everything else (other restrictions, individuals, property axioms) is ignored.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urljoin

from .annotations import ANNOTATION_PROPERTIES, apply_annotation
from .iris import canonical_iri
from .model import OntologyData, OntologySourceError, Term
from .vocab import OBSOLETE_MARKER_CLASSES, OWL, OWL_THING, PART_OF

_NS = "{" + OWL + "}"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_STANDARD_PREFIXES = {
    "owl": OWL,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def read_owlxml(path: Path) -> OntologyData:
    """Read an OWL/XML file into the term model."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise OntologySourceError(path, f"invalid XML: {error.msg}", error.position[0]) from error
    if root.tag != _NS + "Ontology":
        raise OntologySourceError(path, f"root element is {root.tag}, not owl:Ontology")
    return _OwlXmlReader(path, root).read()


class _OwlXmlReader:
    def __init__(self, path: Path, root: ET.Element) -> None:
        self.path = path
        self.root = root
        ontology_iri = root.get("ontologyIRI") or path.resolve().as_uri()
        self.base = root.get(_XML_BASE) or ontology_iri
        self.prefixes = dict(_STANDARD_PREFIXES)
        for prefix in root.iter(_NS + "Prefix"):
            self.prefixes[prefix.get("name", "")] = prefix.get("IRI", "")
        self.data = OntologyData(
            key=path.name.split(".")[0].split("_")[0].lower(),
            ontology_iri=ontology_iri,
            version_iri=root.get("versionIRI"),
            version=None,
            source_path=path,
            source_format="owlxml",
        )

    def read(self) -> OntologyData:
        for axiom in self.root:
            kind = axiom.tag.removeprefix(_NS)
            if kind == "Declaration":
                for entity in axiom.findall(_NS + "Class"):
                    self.data.term(self._class_iri(entity))
            elif kind == "SubClassOf":
                self._sub_class_of(axiom)
            elif kind == "EquivalentClasses":
                self._equivalent_classes(axiom)
        for axiom in self.root.findall(_NS + "AnnotationAssertion"):
            self._annotation(axiom)
        return self.data

    def _iri(self, element: ET.Element) -> str:
        if element.get("IRI") is not None:
            return urljoin(self.base, element.get("IRI", ""))
        abbreviated = element.get("abbreviatedIRI") or (element.text or "").strip()
        if element.tag == _NS + "IRI":
            return urljoin(self.base, abbreviated)
        prefix, sep, local = abbreviated.partition(":")
        if not sep or prefix not in self.prefixes:
            raise OntologySourceError(self.path, f"unknown prefix in {abbreviated!r}")
        return self.prefixes[prefix] + local

    def _class_iri(self, element: ET.Element) -> str:
        return canonical_iri(self._iri(element))

    def _sub_class_of(self, axiom: ET.Element) -> None:
        children = list(axiom)
        if len(children) != 2 or children[0].tag != _NS + "Class":
            return  # general class axioms say nothing about a named class's parents
        term = self.data.term(self._class_iri(children[0]))
        self._add_superclass(term, children[1])

    def _add_superclass(self, term: Term, expression: ET.Element) -> None:
        kind = expression.tag.removeprefix(_NS)
        if kind == "Class":
            iri = self._iri(expression)
            if iri in OBSOLETE_MARKER_CLASSES:
                term.obsolete = term.obsolete or iri != OWL_THING
            else:
                term.add("is_a", canonical_iri(iri))
        elif kind == "ObjectSomeValuesFrom":
            parts = list(expression)
            if (
                len(parts) == 2
                and parts[0].tag == _NS + "ObjectProperty"
                and self._iri(parts[0]) == PART_OF
                and parts[1].tag == _NS + "Class"
            ):
                term.add("part_of", self._class_iri(parts[1]))

    def _equivalent_classes(self, axiom: ET.Element) -> None:
        children = list(axiom)
        named = [c for c in children if c.tag == _NS + "Class"]
        if not named:
            return
        term = self.data.term(self._class_iri(named[0]))
        for other in children:
            if other is named[0]:
                continue
            if other.tag == _NS + "Class":
                term.add("equivalents", self._iri(other))
            elif other.tag == _NS + "ObjectIntersectionOf":
                for member in other:
                    self._add_superclass(term, member)

    def _annotation(self, axiom: ET.Element) -> None:
        children = list(axiom)
        if len(children) < 3 or children[0].tag != _NS + "AnnotationProperty":
            return
        prop = self._iri(children[0])
        subject, value = children[1], children[2]
        if prop not in ANNOTATION_PROPERTIES or subject.tag == _NS + "AnonymousIndividual":
            return
        iri = canonical_iri(self._iri(subject))
        if iri not in self.data.terms:
            return  # annotations on properties or individuals
        if value.tag == _NS + "Literal":
            text = value.text or ""
            lang = value.get("{http://www.w3.org/XML/1998/namespace}lang")
        else:
            text, lang = self._iri(value), None
        if not apply_annotation(self.data.terms[iri], prop, text, lang):
            self.data.count("unresolved_references")
