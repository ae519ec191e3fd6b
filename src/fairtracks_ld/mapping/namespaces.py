"""Namespace IRIs used across the mapping."""

FT = "https://w3id.org/fairtracks-ld/vocab#"
FTX = "https://w3id.org/fairtracks-ld/ext#"  # properties beyond the standard, kept losslessly
# a version stored once (store/members.py): the members graph says which subjects it describes
DESCRIBED_IN = FT + "described_in"
STORED_ONCE = FT + "VersionStoredOnce"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
DCTERMS = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
PROV = "http://www.w3.org/ns/prov#"
SDO = "https://schema.org/"
SPDX = "http://spdx.org/rdf/terms#"
OBO_PURL = "http://purl.obolibrary.org/obo/"
VOID = "http://rdfs.org/ns/void#"

RDF_TYPE = RDF + "type"
RDF_JSON = RDF + "JSON"

# The prefixes every store query and update may use (the store's and the endpoint's)
PREFIXES = {
    "ft": FT,
    "dcterms": DCTERMS,
    "prov": PROV,
    "xsd": XSD,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
}
