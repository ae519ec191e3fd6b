"""The fairtracks-ld vocabulary (Turtle): every class and property, labelled from the schemas.

Labels and comments are the schemas' titles and descriptions; `ft:json_key` names the JSON key a
property maps; `sdo:domainIncludes` says where it occurs. Alignments to well-known vocabularies are
`rdfs:subPropertyOf` / `rdfs:subClassOf` axioms, so the data keeps FAIRtracks' exact meaning and
a reasoner (or a client that knows DCAT, PROV, schema.org, SPDX) still understands it.
"""

from __future__ import annotations

from collections import defaultdict

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS

from fairtracks_ld import __version__
from fairtracks_ld.mapping.context import (
    IRI_SUFFIX,
    MAP_ENTRY_TERMS,
    POSITION_TERM,
    build_context,
    resolves,
    term_name,
)
from fairtracks_ld.mapping.ensembl_context import add_vocabulary as add_ensembl_vocabulary
from fairtracks_ld.mapping.namespaces import DCAT, FT, FTX, OBO_PURL, PROV, SDO, SPDX
from fairtracks_ld.standard import ONTOLOGY_TERM_CLASS, iter_props

FT_NS = Namespace(FT)
_DCAT, _PROV, _SDO, _SPDX = Namespace(DCAT), Namespace(PROV), Namespace(SDO), Namespace(SPDX)
_OBO = Namespace(OBO_PURL)

CLASS_TEXT: dict[str, tuple[str, str]] = {
    "Document": ("FAIRtracks document", "A FAIRtracks JSON document describing one track "
                 "collection; its triples live in one named graph per document version."),
    "DocumentInfo": ("Document info", "Version and related information about a FAIRtracks "
                     "JSON document."),
    "OntologyVersion": ("Ontology version used", "An ontology and the version of it a "
                        "document's term annotations follow (an entry of doc_ontology_versions)."),
    "Collection": ("Track collection", "General information about a track collection."),
    "Contact": ("Contact", "Contact information of a person or organisation."),
    "Study": ("Study", "A study that produced data for a track collection."),
    "Experiment": ("Experiment", "An experiment that produced data for a track collection."),
    "Target": ("Experiment target", "The main target of an experiment."),
    "Sample": ("Sample", "A sample analysed to create tracks."),
    "SampleType": ("Sample type", "The main classification of a sample."),
    "Track": ("Track", "A genomic track file: data mapped to a reference genome."),
    "Checksum": ("File checksum", "A checksum of a track file and its method."),
    ONTOLOGY_TERM_CLASS: ("Ontology term annotation", "An annotation with an ontology term: "
                          "ft:term_id is the ontology class itself, ft:term_label its label as "
                          "the document gives it."),
    "DocumentVersion": ("Document version", "A named graph holding one version of a document, "
                        "as recorded in the store's catalog."),
    "Catalog": ("Store catalog", "The graph that records every document version in the store."),
    "GraphStoreGraph": ("Graph Store graph", "A named graph written through the SPARQL 1.1 Graph "
                        "Store HTTP Protocol (/rdf-graph-store), as recorded in the store's "
                        "catalog; not part of the default view."),
    "VersionStoredOnce": ("Version stored once", "A current document version whose triples are "
                          "held by the current view alone, with no named graph of its own: the "
                          "members graph ({base}graph/members) lists the subjects it describes, "
                          "and GRAPH <version> is answered through them."),
    "InferredGraph": ("Inferred graph", "A graph the store computes rather than loads: the class "
                      "closure of the loaded ontologies ({base}graph/closure), recomputed when "
                      "they change."),
}
CLASS_ALIGNMENT = {
    "Document": [URIRef("http://xmlns.com/foaf/0.1/Document")],
    "Collection": [_DCAT.Dataset],
    "Track": [_DCAT.Distribution],
    "Study": [_SDO.ResearchProject],
    "Experiment": [_PROV.Activity],
    "Sample": [_OBO.OBI_0000747],  # material sample
    "Contact": [_SDO.ContactPoint],
    "Checksum": [_SPDX.Checksum],
    "DocumentVersion": [_PROV.Entity],
}
PROPERTY_ALIGNMENT = {
    "schema_iri": [DCTERMS.conformsTo],
    "local_id": [DCTERMS.identifier],
    "global_id": [DCTERMS.identifier],
    "global_id_iri": [RDFS.seeAlso],
    "doc_date": [DCTERMS.created],
    "doc_version": [_SDO.version],
    "short_name": [RDFS.label],
    "study_name": [RDFS.label],
    "label_short": [RDFS.label],
    "term_label": [RDFS.label],
    "long_name": [DCTERMS.title],
    "label_long": [DCTERMS.title],
    "summary": [DCTERMS.description],
    "description_url_iri": [_DCAT.landingPage],
    "orig_metadata_url_iri": [_PROV.hadPrimarySource],
    "contact": [_DCAT.contactPoint],
    "name": [_SDO.name],
    "e-mail": [_SDO.email],
    "orcid_iri": [_SDO.sameAs],
    "publication_iri": [DCTERMS.isReferencedBy],
    "studies": [DCTERMS.hasPart],
    "experiments": [DCTERMS.hasPart],
    "samples": [DCTERMS.hasPart],
    "tracks": [DCTERMS.hasPart],
    "collection_ref": [DCTERMS.isPartOf],
    "study_ref": [DCTERMS.isPartOf],
    "sample_ref": [_OBO.OBI_0000293],  # has specified input
    "experiment_ref": [_PROV.wasGeneratedBy],
    "species_id_iri": [_OBO.RO_0002162],  # in taxon
    "raw_file_ids_iri": [_PROV.wasDerivedFrom],
    "aggregated_from_iri": [_PROV.wasDerivedFrom],
    "file_url_iri": [_DCAT.downloadURL],
    "file_name": [_SPDX.fileName],
    "checksum": [_SPDX.checksum],
    "cs_hash": [_SPDX.checksumValue],
    "position": [_SDO.position],
}
# Terms the store's catalog uses (not FAIRtracks JSON keys).
CATALOG_PROPERTIES = {
    "current_version": ("current version", "The version graph of a document that queries see "
                        "by default.", "DocumentVersion"),
    "collection": ("collection", "The track collection a document version describes.",
                   "Collection"),
    "variant": ("schema variant", "The FAIRtracks v1 schema variant a document was read as "
                "(v1-current or master).", None),
    "base_iri": ("base IRI", "The base under which the store mints IRIs.", "Catalog"),
    "layout": ("storage layout", "How the store keeps its current view "
               "(\"current-view-in-default-graph\": merged into the default graph).",
               None),
    "record": ("record", "The file (under the store's records/ folder) holding the exact "
               "record of a document version graph: its N-Triples, zstd-compressed.", None),
    "described_in": ("described in", "Links an entity to the version stored once that "
                     "describes it and its nested nodes (IRIs `entity#...`), in the members "
                     "graph, {base}graph/members.",
                     "DocumentVersion"),
    "view_adds": ("view adds", "A source graph a noted change of the current view still has "
                  "to add to the default graph (settled right after the catalog update, or by "
                  "the next writer's sweep).", "Graph"),
    "view_removes": ("view removes", "A source graph whose triples no current source holds a "
                     "noted change of the current view still has to remove from the default "
                     "graph.", "Graph"),
    "replaced_by": ("replaced by", "A graph a noted swap still has to replace with this "
                    "staging graph (ft:nothing: to remove), in bounded steps finished right "
                    "after the note or by the next writer's sweep.", "Graph"),
    "json_key": ("JSON key", "The FAIRtracks JSON key a property maps.", None),
    "conforms": ("conforms", "Whether a document version met every rule of the shapes when it "
                 "was loaded (false: stored with --allow-invalid).", None),
    "violation_count": ("violation count", "The number of rule violations found when a "
                        "document version was loaded.", None),
    "warning_count": ("warning count", "The number of warnings found when a document version "
                      "was loaded.", None),
    "validation_report": ("validation report", "The named graph holding the W3C "
                          "sh:ValidationReport of a document version, made when it was loaded.",
                          "DocumentVersion"),
}
# Ancestor-aware predicates (fairtracks_ld.reasoning): the class closure lives in
# {base}graph/closure, materialised Ubergraph-style; the track predicates (ft:*_ancestor) are not
# stored: they are the path from a track to its annotations' terms and on through the closure,
# which the endpoint answers. All are reflexive: a class descends from itself, and a term no
# loaded ontology knows is found under itself.
_TRACK_LINK = ("Links a track to {what} and to every ancestor of it (reflexive, via "
               "ft:descends_from), so searching for a class finds tracks annotated with any "
               "class below it. Not stored: the SPARQL endpoint answers it as the property path "
               "from the track to the annotation's ft:term_id and on through ft:descends_from or "
               "ft:found_under (docs/ontologies.md), a path any SPARQL engine evaluates.")
REASONING_PROPERTIES: dict[str, tuple[str, str, str]] = {
    "subclass_of": ("subclass of (closure)", "Reflexive-transitive closure of rdfs:subClassOf "
                    "between named classes of the loaded ontologies, owl:equivalentClass counted "
                    "both ways. Inferred, in the closure graph.", "owl:Class"),
    "descends_from": ("descends from (closure)", "Reflexive-transitive closure over is_a "
                      "(rdfs:subClassOf), part_of (rdfs:subClassOf an owl:someValuesFrom "
                      "restriction on BFO:0000050) and hierarchical parents (skos:broader), "
                      "owl:equivalentClass counted both ways. Inferred, in the closure graph.",
                      "owl:Class"),
    "found_under": ("found under (closure)", "Links an obsolete class (owl:deprecated) to its "
                    "replacement (IAO:0100001, followed to the end of a chain) and to every "
                    "class the replacement descends from that the obsolete class does not, so "
                    "a track annotated with the obsolete class is found under them too. "
                    "Inferred, in the closure graph.", "owl:Class"),
    "cell_type_ancestor": ("cell type or ancestor", _TRACK_LINK.format(
        what="the cell type of its sample"), "Track"),
    "abnormal_cell_type_ancestor": ("abnormal cell type or ancestor", _TRACK_LINK.format(
        what="the abnormal cell type of its sample"), "Track"),
    "cell_line_ancestor": ("cell line or ancestor", _TRACK_LINK.format(
        what="the cell line of its sample"), "Track"),
    "tissue_ancestor": ("tissue (organism part) or ancestor", _TRACK_LINK.format(
        what="the organism part of its sample"), "Track"),
    "sample_type_ancestor": ("sample type or ancestor", _TRACK_LINK.format(
        what="the cell type, abnormal cell type, cell line and organism part of its sample"),
        "Track"),
    "biospecimen_class_ancestor": ("biospecimen class or ancestor", _TRACK_LINK.format(
        what="the biospecimen class of its sample"), "Track"),
    "phenotype_ancestor": ("phenotype or ancestor", _TRACK_LINK.format(
        what="the phenotype of its sample and of its experiment's target"), "Track"),
    "technique_ancestor": ("technique or ancestor", _TRACK_LINK.format(
        what="the technique of its experiment"), "Track"),
    "target_ancestor": ("target or ancestor", _TRACK_LINK.format(
        what="the sequence feature, gene product type or macromolecular structure its "
             "experiment targets"), "Track"),
    "file_format_ancestor": ("file format or ancestor", _TRACK_LINK.format(
        what="its file format"), "Track"),
    "link_layout": ("inferred link layout", "Where ancestor-aware answers come from, in the "
                    "catalog: \"closure\" (the annotation's term joined to the class closure; "
                    "stores of earlier versions, with stored links in a companion graph per "
                    "version, drop them on `fairtracks-ld migrate`).", "InferredGraph"),
    "ontology_digest": ("ontology digest", "Fingerprint of the ontologies (graph, version IRI, "
                        "load time) the closure was computed from, in the catalog; when it no "
                        "longer matches, the closure is recomputed.", "InferredGraph"),
    "subclass_reasoner": ("subclass reasoner", "Who computed the closure's subclass_of links, "
                          "in the catalog: \"fast\" (the default materialised closure) or a "
                          "full OWL reasoner (\"hermit\", \"pellet\") run by `fairtracks-ld "
                          "reason --owl-reasoner`.", "InferredGraph"),
}


def _text(values: list[str]) -> str:
    return " / ".join(values)


def build_vocabulary() -> Graph:
    """The vocabulary graph, from the layout, the context and the alignment tables."""
    graph = Graph()
    for prefix, ns in (("ft", FT), ("ftx", FTX), ("dcat", DCAT), ("prov", PROV), ("sdo", SDO),
                       ("spdx", SPDX), ("obo", OBO_PURL), ("dcterms", str(DCTERMS)),
                       ("owl", str(OWL))):
        graph.bind(prefix, ns)
    onto = URIRef(FT.rstrip("#"))
    graph.add((onto, RDF.type, OWL.Ontology))
    graph.add((onto, DCTERMS.title, Literal("fairtracks-ld vocabulary")))
    graph.add((onto, DCTERMS.description, Literal(
        "Classes and properties of FAIRtracks v1 genomic track metadata as linked data. Terms "
        "are named like the FAIRtracks JSON keys; labels and comments come from the FAIRtracks "
        "JSON Schemas (CC BY 4.0). Properties beyond the standard live in the extension "
        f"namespace {FTX}, named by their percent-encoded JSON key.")))
    graph.add((onto, OWL.versionInfo, Literal(__version__)))
    graph.add((onto, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")))
    graph.add((onto, DCTERMS.source, URIRef("https://github.com/fairtracks/fairtracks_standard")))

    for name, (label, comment) in CLASS_TEXT.items():
        cls = FT_NS[name]
        graph.add((cls, RDF.type, OWL.Class))
        graph.add((cls, RDFS.label, Literal(label, lang="en")))
        graph.add((cls, RDFS.comment, Literal(comment, lang="en")))
        graph.add((cls, RDFS.isDefinedBy, onto))
        for parent in CLASS_ALIGNMENT.get(name, []):
            graph.add((cls, RDFS.subClassOf, parent))

    domains: dict[str, set[str]] = defaultdict(set)
    props = {}
    for layout, prop in iter_props():
        term = term_name(prop.key)
        domains[term].add(layout.rdf_class)
        props.setdefault(term, prop)
    context = build_context()["@context"]
    for term, prop in props.items():
        kind = OWL.ObjectProperty if prop.kind in ("term", "ref", "object", "entities", "map") \
            else OWL.DatatypeProperty
        label = _text(prop.titles) or term
        comment = _text(prop.descriptions) or label
        _property(graph, onto, term, kind, label, comment, domains[term], json_key=prop.key)
        if prop.kind == "list":
            graph.add((FT_NS[term], RDFS.range, RDF.List))
        if resolves(prop):
            _property(graph, onto, term + IRI_SUFFIX, OWL.ObjectProperty,
                      f"{label} (resolved IRI)",
                      f"The resolvable IRI of the URL or CURIE in ft:{term}, when it resolves "
                      "offline (OBO PURLs for OBO Foundry prefixes, identifiers.org otherwise; "
                      "a FAIRtracks global identifier, fairtracks:…, links to the dataset's own "
                      "resolver, {base}resolve/fairtracks:…).",
                      domains[term])
    for name in MAP_ENTRY_TERMS:
        text = "ontology" if name == "ontology" else "ontology version"
        _property(graph, onto, name, OWL.DatatypeProperty, text,
                  f"The {text} URL of a doc_ontology_versions entry.", {"OntologyVersion"})
        _property(graph, onto, name + IRI_SUFFIX, OWL.ObjectProperty, f"{text} (IRI)",
                  f"The {text} URL as an IRI.", {"OntologyVersion"})
    _property(graph, onto, POSITION_TERM, OWL.DatatypeProperty, "position",
              "0-based index of a study, experiment, sample or track in its array in the source "
              "document; kept so that exports reproduce the document.",
              {"Study", "Experiment", "Sample", "Track"})
    for name, (label, comment, rng) in CATALOG_PROPERTIES.items():
        kind = OWL.ObjectProperty if rng else OWL.DatatypeProperty
        domain = ({"Catalog"} if name in ("base_iri", "layout", "view_adds", "view_removes")
                  else set() if name in ("json_key", "record", "replaced_by", "described_in")
                  else {"DocumentVersion"})
        _property(graph, onto, name, kind, label, comment, domain)
    for name, (label, comment, domain) in REASONING_PROPERTIES.items():
        literal = name in ("ontology_digest", "subclass_reasoner", "link_layout")
        _property(graph, onto, name, OWL.DatatypeProperty if literal else OWL.ObjectProperty,
                  label, comment, set() if domain == "owl:Class" else {domain})
        if domain == "owl:Class":
            graph.add((FT_NS[name], _SDO.domainIncludes, OWL.Class))
        if not literal:
            graph.add((FT_NS[name], _SDO.rangeIncludes, OWL.Class))
    add_ensembl_vocabulary(graph, onto, _property)
    missing = {t for t in context if not t.startswith("@") and t not in ("ft", "ftx", "xsd")
               and (FT_NS[t], None, None) not in graph}
    if missing:
        raise ValueError(f"context terms without a vocabulary entry: {sorted(missing)}")
    return graph


def _property(
    graph: Graph, onto: URIRef, term: str, kind: URIRef, label: str, comment: str,
    domains: set[str], json_key: str | None = None,
) -> None:
    node = FT_NS[term]
    graph.add((node, RDF.type, kind))
    graph.add((node, RDFS.label, Literal(label, lang="en")))
    graph.add((node, RDFS.comment, Literal(comment, lang="en")))
    graph.add((node, RDFS.isDefinedBy, onto))
    if json_key is not None:
        graph.add((node, FT_NS.json_key, Literal(json_key)))
    for domain in sorted(domains):
        graph.add((node, _SDO.domainIncludes, FT_NS[domain]))
    for parent in PROPERTY_ALIGNMENT.get(term, []):
        graph.add((node, RDFS.subPropertyOf, parent))


def render_vocabulary() -> str:
    """The vocabulary file's exact text (sorted, so regenerating is stable)."""
    return build_vocabulary().serialize(format="turtle")

