"""Self-description: the SPARQL service description and the VoID + DCAT dataset description."""

from __future__ import annotations

import hashlib

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, url_for

from fairtracks_ld import __version__, licences
from fairtracks_ld.mapping.iris import local_id_of
from fairtracks_ld.mapping.namespaces import DCAT, DCTERMS, FT, RDF_TYPE, VOID, XSD
from fairtracks_ld.store import TrackStore
from fairtracks_ld.web.executor import GRAPH_FORMATS, RESULT_FORMATS
from fairtracks_ld.web.negotiation import rdf_response

blueprint = Blueprint("description", __name__)

SD = "http://www.w3.org/ns/sparql-service-description#"
RDFS_SEE_ALSO = "http://www.w3.org/2000/01/rdf-schema#seeAlso"
GRAPH_STORE_PROTOCOL = "http://www.w3.org/TR/sparql11-http-rdf-update/"
VOCABULARIES = [FT, "http://www.w3.org/ns/dcat#", "http://www.w3.org/ns/prov#",
                "http://purl.org/dc/terms/", "http://www.w3.org/2002/07/owl#"]


def _t(s: str, p: str, o: ox.NamedNode | ox.Literal | ox.BlankNode | str) -> ox.Triple:
    subject = ox.BlankNode(s[2:]) if s.startswith("_:") else ox.NamedNode(s)
    if isinstance(o, str):
        o = ox.BlankNode(o[2:]) if o.startswith("_:") else ox.NamedNode(o)
    return ox.Triple(subject, ox.NamedNode(p), o)


def _int(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))


def service_description() -> Response:
    """The SPARQL 1.1 service description (GET /sparql without a query)."""
    settings = current_app.config["SETTINGS"]
    endpoint = url_for("sparql.endpoint", _external=True)
    triples = [
        _t(endpoint, RDF_TYPE, SD + "Service"),
        _t(endpoint, SD + "endpoint", endpoint),
        _t(endpoint, SD + "supportedLanguage", SD + "SPARQL11Query"),
        _t(endpoint, SD + "feature", SD + "BasicFederatedQuery"),
        _t(endpoint, SD + "defaultDataset", "_:dataset"),
        _t("_:dataset", RDF_TYPE, SD + "Dataset"),
        _t("_:dataset", DCTERMS + "description", ox.Literal(
            "The default graph is the merge (each triple once) of the current version of every "
            "document, the ontologies and their class closure; every version is also a named "
            "graph.")),
        _t("_:dataset", VOID + "sparqlEndpoint", endpoint),
    ]
    if settings.admin_token:
        triples.append(_t(endpoint, SD + "supportedLanguage", SD + "SPARQL11Update"))
    graph_store = url_for("graph_store.graph_store", _external=True)
    triples += [  # the Graph Store HTTP Protocol has no service-description term of its own
        _t(endpoint, RDFS_SEE_ALSO, graph_store),
        _t(graph_store, DCTERMS + "conformsTo", GRAPH_STORE_PROTOCOL),
        _t(graph_store, DCTERMS + "description", ox.Literal(
            "SPARQL 1.1 Graph Store HTTP Protocol: GET/HEAD ?default or ?graph=<iri>; "
            "PUT/POST/DELETE of named graphs with the admin token")),
    ]
    formats = {
        "application/sparql-results+json": "http://www.w3.org/ns/formats/SPARQL_Results_JSON",
        "application/sparql-results+xml": "http://www.w3.org/ns/formats/SPARQL_Results_XML",
        "text/csv": "http://www.w3.org/ns/formats/SPARQL_Results_CSV",
        "text/tab-separated-values": "http://www.w3.org/ns/formats/SPARQL_Results_TSV",
        "text/turtle": "http://www.w3.org/ns/formats/Turtle",
        "application/n-triples": "http://www.w3.org/ns/formats/N-Triples",
        "application/ld+json": "http://www.w3.org/ns/formats/JSON-LD",
        "application/rdf+xml": "http://www.w3.org/ns/formats/RDF_XML",
        "application/n-quads": "http://www.w3.org/ns/formats/N-Quads",
        "application/trig": "http://www.w3.org/ns/formats/TriG",
    }
    for media in [*RESULT_FORMATS, *GRAPH_FORMATS]:
        triples.append(_t(endpoint, SD + "resultFormat", formats[media]))
    return rdf_response(triples)


@blueprint.route("/.well-known/void")
def void() -> Response:
    """VoID + DCAT: size, classes, properties, endpoint, dumps, URI space, and per collection
    a dataset with the licence and data-use conditions its provider stated (none is claimed for
    the whole: the publisher licenses no data it did not license)."""
    store = current_app.extensions["snapshots"].store()
    dataset = url_for("description.void", _external=True)
    endpoint = url_for("sparql.endpoint", _external=True)
    dump = url_for("dumps.dump_all", _external=True)

    def count(sparql: str) -> int:
        return int(next(iter(store.query(sparql)))["n"].value)

    triples = [
        _t(dataset, RDF_TYPE, VOID + "Dataset"),
        _t(dataset, RDF_TYPE, DCAT + "Dataset"),
        _t(dataset, DCTERMS + "title", ox.Literal("FAIRtracks genomic track metadata")),
        _t(dataset, DCTERMS + "description", ox.Literal(
            "FAIRtracks documents published as linked data by fairtracks-ld "
            f"{__version__}, with the ontologies they use.")),
        _t(dataset, VOID + "sparqlEndpoint", endpoint),
        _t(dataset, VOID + "dataDump", dump),
        _t(dataset, VOID + "uriSpace", ox.Literal(store.base)),
        _t(dataset, VOID + "triples", _int(count("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"))),
        _t(dataset, VOID + "entities", _int(count(
            "SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s a ?c "
            f"FILTER(STRSTARTS(STR(?s), \"{store.base}\")) }}"))),
        _t(dataset, VOID + "classes", _int(count("SELECT (COUNT(DISTINCT ?c) AS ?n) { ?s a ?c }"))),
        _t(dataset, VOID + "properties", _int(count(
            "SELECT (COUNT(DISTINCT ?p) AS ?n) { ?s ?p ?o }"))),
        _t(dataset, DCAT + "distribution", "_:dump"),
        _t("_:dump", RDF_TYPE, DCAT + "Distribution"),
        _t("_:dump", DCAT + "downloadURL", dump),
        _t("_:dump", DCAT + "mediaType", "https://www.iana.org/assignments/media-types/"
                                          "application/n-quads"),
        _t("_:dump", DCAT + "compressFormat", "https://www.iana.org/assignments/media-types/"
                                               "application/gzip"),
    ]
    for vocabulary in VOCABULARIES:
        triples.append(_t(dataset, VOID + "vocabulary", vocabulary))
    for row in store.query(
        "SELECT ?c (COUNT(?s) AS ?n) { ?s a ?c FILTER(STRSTARTS(STR(?c), STR(ft:))) } GROUP BY ?c"
    ):
        partition = "_:class" + hashlib.sha1(row["c"].value.encode()).hexdigest()[:12]
        triples += [
            _t(dataset, VOID + "classPartition", partition),
            _t(partition, VOID + "class", row["c"].value),
            _t(partition, VOID + "entities", _int(int(row["n"].value))),
        ]
    collections: set[str] = set()
    for version in store.versions():
        if version.current:
            subset = url_for("dumps.dump_collection", _external=True,
                             collection=version.collection.rsplit("/", 1)[-1])
            triples += [_t(dataset, VOID + "subset", version.graph),
                        _t(version.graph, VOID + "dataDump", subset)]
            collections.add(version.collection)
    for collection in sorted(collections):
        triples += collection_dataset(store, dataset, collection)
    return rdf_response(triples)


def collection_dataset(store: TrackStore, dataset: str, collection: str) -> list[ox.Triple]:
    """A collection as a dcat:Dataset of its own: its licence (`dct:license`) and data-use
    conditions as its provider stated them, or `dct:rights` "licence not stated"."""
    terms = licences.terms_of(store, collection)
    dump = url_for("dumps.dump_collection", _external=True,
                   collection=local_id_of(collection))
    triples = [_t(dataset, VOID + "subset", collection), _t(collection, RDF_TYPE, VOID + "Dataset"),
               _t(collection, RDF_TYPE, DCAT + "Dataset"), _t(collection, VOID + "dataDump", dump)]
    if terms.licence is not None:
        triples.append(_t(collection, DCTERMS + "license", terms.licence.iri))
        triples.append(_t(collection, FT + "open_licence",
                          ox.Literal(str(licences.is_open(terms.licence)).lower(),
                                     datatype=ox.NamedNode(XSD + "boolean"))))
    else:
        triples.append(_t(collection, DCTERMS + "rights", ox.Literal(licences.NOT_STATED)))
    if terms.conditions:
        triples.append(_t(collection, licences.CONDITIONS, ox.Literal(terms.conditions)))
    if terms.duo:
        triples.append(_t(collection, licences.DUO_TERM, terms.duo))
    return triples
