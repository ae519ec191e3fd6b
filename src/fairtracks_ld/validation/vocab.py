"""Namespaces and terms of the shapes, the validation report and the validation context."""

from __future__ import annotations

from fairtracks_ld.mapping.namespaces import FT, FTX, OBO_PURL, OWL, RDF, RDFS, XSD

SH = "http://www.w3.org/ns/shacl#"
FTS = "https://w3id.org/fairtracks-ld/shapes#"  # shapes, and the facts validation adds
SHAPES_ONTOLOGY = "https://w3id.org/fairtracks-ld/shapes"  # holds the sh:declare prefixes
SKOS = "http://www.w3.org/2004/02/skos/core#"

PREFIXES: dict[str, str] = {
    "sh": SH,
    "fts": FTS,
    "ft": FT,
    "ftx": FTX,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "obo": OBO_PURL,
    "skos": SKOS,
    "dcterms": "http://purl.org/dc/terms/",
}
# Prefixes declared for SPARQL-based targets and constraints (sh:declare).
SPARQL_PREFIXES = ("ft", "ftx", "fts", "rdf", "rdfs", "owl", "xsd", "obo")

# Facts the validation context adds to a document's data graph (never stored).
STORED_ENTITY = FTS + "StoredEntity"  # an entity of another document already in the store
ENTITY = FTS + "entity"
ENTITY_CLASS = FTS + "entityClass"
DOCUMENT = FTS + "document"
STATUS = FTS + "status"  # of an ontology the schemas name: Complete | Partial | Missing
COMPLETE, PARTIAL, MISSING = FTS + "Complete", FTS + "Partial", FTS + "Missing"
IMPORTS = FTS + "imports"  # a named ontology imports another (EFO imports CL and UBERON)
CURIE_PREFIX = FTS + "CuriePrefix"
PREFIX = FTS + "prefix"
PATTERN = FTS + "pattern"
DESCENDS_FROM = FT + "descends_from"
IS_DEFINED_BY = RDFS + "isDefinedBy"
DEPRECATED = OWL + "deprecated"
REPLACED_BY = OBO_PURL + "IAO_0100001"

# Annotations on shapes (ignored by SHACL processors).
SCHEMA_RULE = FTS + "schemaRule"  # the schema keyword a shape checks
STANDARD = FTS + "standard"  # true: a JSON Schema rule; false: a FAIRtracks extension or advice
ANCESTOR = FTS + "ancestor"  # ontology terms the shape names (the context digests them)
ONTOLOGY = FTS + "ontology"  # ontologies the shape names
