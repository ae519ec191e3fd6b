"""JSON → RDF mapping: both paths agree, IRIs are stable, hostile input is contained, round trip."""

from __future__ import annotations

import copy

import pyoxigraph as ox
import pytest
from conftest import BASE
from skolemise import same_skolemised

from fairtracks_ld.mapping import curies
from fairtracks_ld.mapping.export import export_document
from fairtracks_ld.mapping.iris import (
    IriMinter,
    decode_segment,
    encode_segment,
    local_id_of,
    slash_readings,
)
from fairtracks_ld.mapping.namespaces import FT, FTX, RDF
from fairtracks_ld.mapping.prepare import MappingError, prepare
from fairtracks_ld.mapping.to_rdf import quads_fast, quads_reference

C = BASE + "collection/encode_example"


def ground(quads) -> set[ox.Quad]:
    """Quads without blank nodes (list nodes get fresh labels on every parse)."""
    return {q for q in quads if not isinstance(q.subject, ox.BlankNode)
            and not isinstance(q.object, ox.BlankNode)}


def hostile(document: dict) -> dict:
    """The example with JSON-LD keywords and IRI-like keys planted at every level."""
    doc = copy.deepcopy(document)
    doc["@context"] = {"local_id": "@id", "tracks": "http://evil.example/p"}
    doc["@id"] = "http://evil.example/doc"
    doc["@graph"] = [{"@id": "http://evil.example/x", "http://evil.example/p": "owned"}]
    doc["@included"] = [{"@id": "http://evil.example/y", "@type": "http://evil.example/T"}]
    doc["tracks"][0]["@type"] = "http://evil.example/Track"
    doc["tracks"][0]["@reverse"] = {"http://evil.example/r": {"@id": "http://evil.example/z"}}
    doc["tracks"][0]["@nest"] = {"label_short": "nested"}
    doc["tracks"][0]["http://evil.example/p"] = {"@id": "http://evil.example/w"}
    doc["tracks"][0]["ft:local_id"] = "spoof"
    doc["samples"][0]["sample_type"]["@id"] = "http://evil.example/st"
    doc["experiments"][0]["technique"]["@value"] = "x"
    doc["studies"][0]["contact"]["@language"] = "en"
    doc["collection_info"]["@base"] = "http://evil.example/"
    doc["doc_info"]["@vocab"] = "http://evil.example/"
    return doc


def extended(document: dict) -> dict:
    """The example with properties beyond the standard and values of unexpected types."""
    doc = copy.deepcopy(document)
    doc["provider_notes"] = {"nested": [1, 2.5, None, True, {"k": "v"}], "empty": {}}
    doc["tracks"][0]["replicate"] = 2
    doc["tracks"][0]["qc_passed"] = False
    doc["tracks"][0]["score"] = 0.75
    doc["tracks"][0]["nothing"] = None
    doc["tracks"][0]["labels"] = ["a", "b"]
    doc["tracks"][1]["raw_file_ids"] = "encode:ENCFF000AAA"  # should be an array
    doc["tracks"][1]["file_format"]["term_id"] = "EDAM:format_3004"  # not an IRI
    doc["samples"][0]["species_id"] = 9606  # should be a string
    doc["experiments"][0]["target"]["weird key/with~chars %"] = "ok"
    doc["tracks"][2]["label_long"] = "Ünïcödé ✓ \n tabs\t and \"quotes\""
    return doc


def all_documents(examples, generated):
    docs = [examples["v1-current"], examples["master"], *generated]
    docs += [hostile(examples["v1-current"]), extended(examples["master"])]
    return docs


def test_fast_path_is_pyld_skolemised(examples, generated):
    for document in all_documents(examples, generated):
        prepared = prepare(document, BASE)
        fast, reference = quads_fast(prepared), quads_reference(prepared)
        assert {q.graph_name for q in fast} == {ox.NamedNode(prepared.graph)}
        assert {q.graph_name for q in reference} == {ox.NamedNode(prepared.graph)}
        assert same_skolemised(fast, reference), prepared.graph


def test_round_trip_reproduces_every_document(examples, generated):
    for document in all_documents(examples, generated):
        prepared = prepare(document, BASE)
        assert export_document(quads_fast(prepared), prepared.document_iri) == document


def test_same_input_gives_same_iris(examples):
    first, second = prepare(examples["v1-current"], BASE), prepare(examples["v1-current"], BASE)
    assert quads_fast(first) == quads_fast(second)  # no blank node: the very same quads
    subjects = {q.subject.value for q in quads_fast(first) if isinstance(q.subject, ox.NamedNode)}
    assert f"{C}/track/encode:ENCFF625ZYB" in subjects
    assert f"{C}/experiment/encode:ENCSR000DQP" in subjects
    assert f"{C}/sample/geo:GSM945229" in subjects
    assert f"{C}/study/UW_ChipSeq" in subjects
    assert C in subjects
    assert f"{C}/track/encode:ENCFF625ZYB#checksum" in subjects
    # its raw_file_ids list: cells named after their owner (docs/mapping.md), from 1
    assert {f"{C}/track/encode:ENCFF625ZYB#raw_file_ids-list-{n}" for n in (1, 2)} <= subjects
    assert f"{C}/track/encode:ENCFF625ZYB#raw_file_ids-list-3" not in subjects
    assert first.graph.startswith(f"{C}/document/0/version/9e9fa2d4")


def test_references_become_links(examples):
    quads = quads_fast(prepare(examples["v1-current"], BASE))
    triples = {(q.subject.value, q.predicate.value, q.object.value) for q in quads}
    assert (f"{C}/track/encode:ENCFF625ZYB", FT + "experiment_ref",
            f"{C}/experiment/encode:ENCSR000DQP") in triples
    assert (f"{C}/experiment/encode:ENCSR000DQP", FT + "sample_ref",
            f"{C}/sample/geo:GSM945229") in triples
    assert (f"{C}/experiment/encode:ENCSR000DQP", FT + "study_ref",
            f"{C}/study/UW_ChipSeq") in triples
    assert (C, FT + "doc_ref", f"{C}/document/0") in triples


def test_term_ids_are_the_ontology_classes(examples):
    quads = quads_fast(prepare(examples["v1-current"], BASE))
    objects = {q.object for q in quads if q.predicate.value == FT + "term_id"}
    assert ox.NamedNode("http://purl.obolibrary.org/obo/OBI_0002017") in objects
    assert ox.NamedNode("http://www.ebi.ac.uk/efo/EFO_0003042") in objects
    assert all(isinstance(o, ox.NamedNode) for o in objects)


@pytest.mark.parametrize("local_id", ["a/b", "x y", "..", ".", "é#?&=", "50%", "encode:ENC1",
                                      "~tilde", "<script>"])
def test_any_local_id_gets_one_valid_iri_and_back(local_id):
    minter = IriMinter(BASE, "coll/ection")
    iri = minter.entity_iri("track", local_id)
    ox.NamedNode(iri)  # valid IRI
    assert local_id_of(iri) == local_id
    assert iri.startswith(BASE + "collection/coll%2Fection/track/")
    assert decode_segment(encode_segment(local_id)) == local_id
    assert "/" not in encode_segment(local_id) and encode_segment(local_id) not in (".", "..")


def test_hostile_keywords_neither_change_the_mapping_nor_escape_the_document(examples):
    clean = prepare(examples["v1-current"], BASE)
    dirty = prepare(hostile(examples["v1-current"]), BASE)
    assert dirty.graph == clean.graph
    dirty_quads = set(quads_fast(dirty))
    assert ground(quads_fast(clean)) - ground(dirty_quads) == set()  # standard triples unchanged
    for quad in dirty_quads:
        subject = quad.subject
        assert isinstance(subject, ox.BlankNode) or subject.value.startswith(C), subject
        predicate = quad.predicate.value
        assert predicate.startswith((FT, FTX, RDF)), predicate
        assert not predicate.startswith("http://evil.example")
    # the planted keys survive as inert extension properties
    extension = {q.predicate.value for q in dirty_quads if q.predicate.value.startswith(FTX)}
    assert FTX + "%40context" in extension and FTX + "%40reverse" in extension
    assert FTX + "http%3A%2F%2Fevil.example%2Fp" in extension
    assert FTX + "ft%3Alocal_id" in extension


def test_extension_and_mistyped_values_survive_as_extension_properties(examples):
    document = extended(examples["master"])
    prepared = prepare(document, BASE)
    quads = quads_fast(prepared)
    by_predicate = {q.predicate.value: q.object for q in quads}
    assert by_predicate[FTX + "replicate"] == ox.Literal("2", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#integer"))
    assert by_predicate[FTX + "raw_file_ids"].value == "encode:ENCFF000AAA"
    assert FTX + "term_id" in by_predicate
    messages = " ".join(n.message for n in prepared.notes)
    assert "expected a string" in messages and "not an IRI" in messages
    assert export_document(quads, prepared.document_iri) == document


@pytest.mark.parametrize(
    ("curie", "iri"),
    [
        ("taxonomy:9606", "http://purl.obolibrary.org/obo/NCBITaxon_9606"),
        ("ncbitaxon:10090", "http://purl.obolibrary.org/obo/NCBITaxon_10090"),
        ("insdc.gca:GCA_000001405.15", "https://identifiers.org/insdc.gca:GCA_000001405.15"),
        ("insdc.gca:GCF_000001405.26", "https://identifiers.org/refseq.gcf:GCF_000001405.26"),
        ("geo:GSE35583", "https://identifiers.org/geo:GSE35583"),
        ("biosample:SAMN01731491", "https://identifiers.org/biosample:SAMN01731491"),
        ("pubmed:22955617", "https://identifiers.org/pubmed:22955617"),
        ("orcid:0000-0002-1825-0097", "https://identifiers.org/orcid:0000-0002-1825-0097"),
        ("encode:ENCFF842FEQ", "https://identifiers.org/encode:ENCFF842FEQ"),
        ("hgnc:5", "https://identifiers.org/hgnc:5"),
    ],
)
def test_curies_resolve_offline(curie, iri):
    assert curies.resolve(curie).iri == iri


def test_gcf_under_insdc_gca_is_resolved_with_a_notice():
    resolution = curies.resolve("insdc.gca:GCF_000001405.26")
    assert resolution.notice and "RefSeq" in resolution.notice


@pytest.mark.parametrize("curie", ["fairtracks:1", "nosuchprefix:42", "encode: ENCFF207FGO",
                                   "geo:NOTGEO", "no-colon", "pubmed:", ":123"])
def test_unresolvable_curies_are_reported_not_guessed(curie):
    resolution = curies.resolve(curie)
    assert resolution.iri is None and resolution.problem


def test_unresolvable_curies_are_reported_in_mapping_notes(examples):
    prepared = prepare(examples["v1-current"], BASE)
    notes = {(n.pointer, n.level) for n in prepared.notes}
    assert ("/tracks/0/raw_file_ids/0", "warning") in notes  # "encode: ENCFF207FGO"
    assert ("/tracks/0/assembly_id", "info") in notes
    # the standard's own fairtracks: global_ids (no registry has the prefix) link to /resolve
    assert not [n for n in prepared.notes if n.pointer.endswith("/global_id")]
    track = prepared.node["tracks"][0]
    assert track["global_id_iri"] == BASE + "resolve/fairtracks:1"


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (lambda d: d.__setitem__("@schema", "https://example.org/other.json"), "/@schema"),
        (lambda d: d.pop("@schema"), "/@schema"),
        (lambda d: d.pop("collection_info"), "/collection_info"),
        (lambda d: d["tracks"][1].pop("local_id"), "/tracks/1/local_id"),
        (lambda d: d["tracks"][1].__setitem__("local_id", 7), "/tracks/1/local_id"),
        (lambda d: d["tracks"][2].__setitem__("local_id", d["tracks"][0]["local_id"]),
         "/tracks/2/local_id"),
    ],
)
def test_unmappable_documents_are_refused_with_a_pointer(example, mutate, pointer):
    mutate(example)
    with pytest.raises(MappingError) as error:
        prepare(example, BASE)
    assert error.value.pointer == pointer


def test_non_object_documents_are_refused():
    for document in ([], "text", 3, None):
        with pytest.raises(MappingError):
            prepare(document, BASE)


def test_text_that_is_not_unicode_is_refused_before_writing(example):
    example["tracks"][0]["label_long"] = "broken \ud800 surrogate"
    with pytest.raises(MappingError, match="not valid Unicode"):
        prepare(example, BASE)


def test_slash_readings_find_every_minted_iri_a_decoded_path_can_come_from():
    minter = IriMinter("http://x/", "hub/one")
    minted = [minter.entity_iri("track", "a/b"), minter.version_graph("d/e", "v/w"),
              minter.collection_iri, minter.entity_iri("sample", "s")]
    for iri in minted:
        path = iri.removeprefix("http://x/")
        decoded = "/".join(decode_segment(segment) for segment in path.split("/"))
        assert path in slash_readings(decoded) or path == decoded
    assert slash_readings("collection/plain/track/t") == ["collection/plain%2Ftrack%2Ft"]
    assert slash_readings("graph/closure") == []
    assert slash_readings("collection/" + "/".join("x" * 13)) == []  # too long to read again
