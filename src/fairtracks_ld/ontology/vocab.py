"""The RDF vocabulary the ontology modules are written in (standard OBO-in-OWL practice).

Relations between classes:
- is_a            -> rdfs:subClassOf
- part_of         -> rdfs:subClassOf [ owl:onProperty BFO:0000050 ; owl:someValuesFrom X ]
- hierarchical parent (closure sources, where is_a and part_of are mixed and the kind is not
  recorded) -> skos:broader. SKOS defines it as "a direct hierarchical link" without saying which
  kind, which is exactly what those sources know; it is never passed off as rdfs:subClassOf.
Ancestor closures should follow all three (plus owl:equivalentClass for EFO's two IRI forms).
"""

from __future__ import annotations

from .model import SynonymScope

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"
DC = "http://purl.org/dc/elements/1.1/"
OBO = "http://purl.obolibrary.org/obo/"
OBOINOWL = "http://www.geneontology.org/formats/oboInOwl#"

RDF_TYPE = RDF + "type"
RDFS_LABEL = RDFS + "label"
RDFS_COMMENT = RDFS + "comment"
RDFS_SUBCLASS_OF = RDFS + "subClassOf"
OWL_CLASS = OWL + "Class"
OWL_ONTOLOGY = OWL + "Ontology"
OWL_VERSION_IRI = OWL + "versionIRI"
OWL_VERSION_INFO = OWL + "versionInfo"
OWL_DEPRECATED = OWL + "deprecated"
OWL_EQUIVALENT_CLASS = OWL + "equivalentClass"
OWL_RESTRICTION = OWL + "Restriction"
OWL_ON_PROPERTY = OWL + "onProperty"
OWL_SOME_VALUES_FROM = OWL + "someValuesFrom"
OWL_INTERSECTION_OF = OWL + "intersectionOf"
OWL_THING = OWL + "Thing"
OWL_DEPRECATED_CLASS = OWL + "DeprecatedClass"  # EDAM puts obsolete classes under it

PART_OF = OBO + "BFO_0000050"
IAO_DEFINITION = OBO + "IAO_0000115"
IAO_REPLACED_BY = OBO + "IAO_0100001"
HIERARCHICAL_PARENT = SKOS + "broader"
SKOS_DEFINITION = SKOS + "definition"

OBOINOWL_HAS_DEFINITION = OBOINOWL + "hasDefinition"
OBOINOWL_REPLACED_BY = OBOINOWL + "replacedBy"
OBOINOWL_CONSIDER = OBOINOWL + "consider"
OBOINOWL_ALT_ID = OBOINOWL + "hasAlternativeId"
OBOINOWL_OBSOLETE_CLASS = OBOINOWL + "ObsoleteClass"

SYNONYM_PREDICATES: dict[SynonymScope, str] = {
    SynonymScope.EXACT: OBOINOWL + "hasExactSynonym",
    SynonymScope.RELATED: OBOINOWL + "hasRelatedSynonym",
    SynonymScope.BROAD: OBOINOWL + "hasBroadSynonym",
    SynonymScope.NARROW: OBOINOWL + "hasNarrowSynonym",
    SynonymScope.UNSPECIFIED: OBOINOWL + "hasSynonym",
}
SYNONYM_SCOPES: dict[str, SynonymScope] = {iri: s for s, iri in SYNONYM_PREDICATES.items()}

# Parents that only mark a class as obsolete; the owl:deprecated flag says that already.
OBSOLETE_MARKER_CLASSES = frozenset({OWL_DEPRECATED_CLASS, OBOINOWL_OBSOLETE_CLASS, OWL_THING})

TURTLE_PREFIXES: dict[str, str] = {
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "skos": SKOS,
    "dcterms": DCTERMS,
    "oboInOwl": OBOINOWL,
    "obo": OBO,
}
