"""The context, the vocabulary and the schemas describe the same model: no drift."""

from __future__ import annotations

import json

import pytest
from pyld import jsonld
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import RDF, RDFS

from fairtracks_ld.mapping.context import load_context
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.mapping.publish import published_files
from fairtracks_ld.paths import CONTEXT_FILE, VOCABULARY_FILE, data_dir
from fairtracks_ld.standard import VARIANTS, load_schemas

FT_NS = Namespace(FT)
MAP_PATH = ("doc_info", "doc_ontology_versions")  # its keys are ontology IRIs: map entries


def raw_schema_properties():
    """Every property key of every schema file of both variants, found by a plain walk."""
    found = set()

    def walk(node, path):
        if isinstance(node, dict):
            for key, child in node.get("properties", {}).items():
                if tuple(path[-2:]) != MAP_PATH:
                    found.add(key)
                walk(child, [*path, key])
            for key in ("items", "then", "if"):
                walk(node.get(key), path)
            for key in ("allOf", "anyOf"):
                for child in node.get(key, []):
                    walk(child, path)

    for variant in VARIANTS:
        for schema in load_schemas(variant).values():
            walk(schema, [])
    return found


@pytest.fixture(scope="module")
def vocabulary() -> Graph:
    graph = Graph()
    graph.parse(data_dir("context") / VOCABULARY_FILE, format="turtle")
    return graph


def test_published_files_match_the_schemas():
    """`make context` output is committed: regenerating changes nothing."""
    for name, text in published_files().items():
        assert (data_dir("context") / name).read_text(encoding="utf-8") == text, name


def test_every_schema_property_has_a_context_term_and_a_vocabulary_entry(vocabulary):
    context = load_context()
    keys = raw_schema_properties()
    assert {"local_id", "term_id", "raw_file_ids", "e-mail", "has_augmented_metadata",
            "target_details", "details", "cs_hash", "@schema"} <= keys
    for key in keys:
        term = "schema" if key == "@schema" else key
        assert term in context, f"schema property {key!r} has no context term"
        predicate = FT_NS[term]
        assert (predicate, FT_NS.json_key, Literal(key)) in vocabulary, key
        assert (predicate, RDFS.label, None) in vocabulary, key
        assert (predicate, RDFS.comment, None) in vocabulary, key


def test_every_context_term_is_defined_by_the_vocabulary(vocabulary):
    for term, definition in load_context().items():
        if term.startswith("@") or term in ("ft", "ftx", "xsd"):
            continue
        iri = definition["@id"] if isinstance(definition, dict) else definition
        assert iri.startswith("ft:"), term
        node = FT_NS[iri[3:]]
        assert (node, RDF.type, None) in vocabulary, f"{iri} is not in the vocabulary"
        assert (node, RDFS.label, None) in vocabulary, iri


def test_vocabulary_aligns_with_well_known_vocabularies(vocabulary):
    sub = RDFS.subPropertyOf
    assert (FT_NS.file_url_iri, sub, Namespace("http://www.w3.org/ns/dcat#").downloadURL) \
        in vocabulary
    assert (FT_NS.checksum, sub, Namespace("http://spdx.org/rdf/terms#").checksum) in vocabulary
    assert (FT_NS.experiment_ref, sub, Namespace("http://www.w3.org/ns/prov#").wasGeneratedBy) \
        in vocabulary
    assert (FT_NS.Track, RDFS.subClassOf, Namespace("http://www.w3.org/ns/dcat#").Distribution) \
        in vocabulary


def test_context_maps_a_raw_document_for_third_parties(examples):
    """Anyone can apply the published context to a FAIRtracks document with a JSON-LD tool."""
    context = json.loads((data_dir("context") / CONTEXT_FILE).read_text())
    document = dict(examples["v1-current"])
    document.pop("@schema")
    expanded = jsonld.expand({**context, **document})
    predicates = set(expanded[0])
    assert FT + "tracks" in predicates and FT + "collection_info" in predicates
    track = expanded[0][FT + "tracks"][0]
    file_format = track[FT + "file_format"][0]
    assert file_format[FT + "term_id"] == [{"@id": "http://edamontology.org/format_3613"}]
