"""The JSON-LD context and vocabulary additions of the Ensembl track model.

Same vocabulary where meanings coincide: `short_name`, `long_name`, `genome_assembly` and
`location_uri` are the FAIRtracks track's `ft:label_short`, `ft:label_long`, `ft:assembly_name`
and `ft:file_url`; every other key gets an `ft:` term named like it. The model's objects
(`genome`, `release`, `location`) are `@nest`: their keys are track properties (the model prefixes
keys with their object's name, so nothing collides), which lets one SPARQL pattern read tracks of
both models. The mapping adds the links FAIRtracks tracks have: `ft:species_id_iri` (NCBITaxon),
`ft:species_name`, `ft:assembly_id` (+ `_iri`) and `ft:file_url_iri`; and the track's release as
a collection (`ft:collection_ref` to an `ft:EnsemblRelease`, an `ft:Collection` named with
`ft:short_name` and carrying its division and release number), so pages, search facets and
queries that know collections know Ensembl releases too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS

from fairtracks_ld import ensembl_model
from fairtracks_ld.mapping.context import context_text, read_published
from fairtracks_ld.mapping.namespaces import FT, FTX, XSD

CONTEXT_FILE = "ensembl-track.context.jsonld"
CLASSES = ("Track", "EnsemblTrack", "Collection", "EnsemblRelease")
# Ensembl key → the FAIRtracks track term with the same meaning.
SHARED_TERMS = {
    "short_name": "label_short",
    "long_name": "label_long",
    "genome_assembly": "assembly_name",
    "location_uri": "file_url",
}
# Terms the mapping adds from offline facts (never read from the document):
# name → (ft: term, its type coercion or None).
DERIVED_TERMS = {
    "genome_species_iri": ("species_id_iri", "@id"),
    "species_name": ("species_name", None),
    "assembly_id": ("assembly_id", None),
    "assembly_id_iri": ("assembly_id_iri", "@id"),
    "location_uri_iri": ("file_url_iri", "@id"),
    # the track's release, as a collection (an ft:EnsemblRelease): the link, its name and site
    "collection_ref": ("collection_ref", "@id"),
    "collection_short_name": ("short_name", None),
    "collection_source_repo_url": ("source_repo_url", "xsd:anyURI"),
    "collection_source_repo_url_iri": ("source_repo_url_iri", "@id"),
}
# The model's keys the release (the collection node) carries too, normalised (see mapping).
RELEASE_KEYS = ("release_division", "release_version")
JSON_KEY = "ensembl_json_key"  # annotation: the Ensembl JSON key a property maps
_FT = Namespace(FT)
_SDO = Namespace("https://schema.org/")


def predicate(prop: ensembl_model.EnsemblProp) -> str:
    """The full predicate IRI of a (non-object) key."""
    return FT + SHARED_TERMS.get(prop.key, prop.key)


def _definition(prop: ensembl_model.EnsemblProp) -> dict[str, Any] | str:
    if prop.json_type == "object":
        return "@nest"
    definition: dict[str, Any] = {"@id": "ft:" + SHARED_TERMS.get(prop.key, prop.key)}
    if prop.json_type == "array":
        definition["@container"] = "@list"
    elif prop.format == "uri":
        definition["@type"] = "xsd:anyURI"
    return definition


def build_context() -> dict[str, Any]:
    """The Ensembl context document, from the model's schema (see `make context`)."""
    terms: dict[str, Any] = {"@version": 1.1, "@vocab": FTX, "ft": FT, "ftx": FTX, "xsd": XSD}
    terms.update({name: f"ft:{name}" for name in CLASSES})
    for prop in ensembl_model.properties():
        terms[prop.key] = _definition(prop)
    for name, (term, coerce) in DERIVED_TERMS.items():
        terms[name] = {"@id": f"ft:{term}", **({"@type": coerce} if coerce else {})}
    return {"@context": terms}


def render_context() -> str:
    return context_text(build_context())


@cache
def load_context() -> dict[str, Any]:
    """The published Ensembl context (`context/ensembl-track.context.jsonld`), its `@context`."""
    return read_published(CONTEXT_FILE)


Declare = Callable[..., None]  # vocabulary._property


def _add_class(graph: Graph, onto: URIRef, node: URIRef, parent: URIRef, label: str,
               comment: str) -> None:
    """Declare one of the model's classes in the vocabulary."""
    graph.add((node, RDF.type, OWL.Class))
    graph.add((node, RDFS.label, Literal(label, lang="en")))
    graph.add((node, RDFS.comment, Literal(comment, lang="en")))
    graph.add((node, RDFS.isDefinedBy, onto))
    graph.add((node, RDFS.subClassOf, parent))


def add_vocabulary(graph: Graph, onto: URIRef, declare: Declare) -> None:
    """Add the model's class and properties to the vocabulary graph; shared FAIRtracks terms
    only gain the Ensembl key they also map (`ft:ensembl_json_key`)."""
    track = _FT.EnsemblTrack
    _add_class(graph, onto, track, _FT.Track, "Ensembl track",
               "A track described by Ensembl-style track JSON (one object per track, after "
               "Ensembl's draft JSON Schema for Tracks); also an ft:Track, so queries find it "
               "with FAIRtracks tracks.")
    _add_class(graph, onto, _FT.EnsemblRelease, _FT.Collection, "Ensembl release",
               "The tracks one Ensembl division publishes in one release "
               "(ensembl-{division}-{release}): the collection of every Ensembl track, which "
               "links to it with ft:collection_ref. Made by the mapping (named, e.g., "
               "\"Ensembl release 89\"), not read from a document.")
    graph.add((_FT.collection_ref, _SDO.domainIncludes, track))
    declare(graph, onto, JSON_KEY, OWL.AnnotationProperty, "Ensembl JSON key",
            "The key of Ensembl-style track JSON a property maps.", set())
    for prop in ensembl_model.properties():
        if prop.json_type == "object":
            continue
        node = URIRef(predicate(prop))
        if prop.key not in SHARED_TERMS:
            kind = OWL.DatatypeProperty
            domains = {"EnsemblTrack", "EnsemblRelease"} if prop.key in RELEASE_KEYS else {
                "EnsemblTrack"}
            declare(graph, onto, prop.key, kind, prop.title, prop.description, domains)
            if prop.json_type == "array":
                graph.add((node, RDFS.range, RDF.List))
        graph.add((node, _FT[JSON_KEY], Literal(prop.key)))
    graph.add((_FT.description, RDFS.subPropertyOf, DCTERMS.description))
