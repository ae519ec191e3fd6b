"""Shapes generation, the FAIRtracks rules JSON Schema cannot check (ontology terms, CURIEs,
uniqueness, references, label lengths), reports and the document API."""

from __future__ import annotations

import json
from collections import Counter

import pyoxigraph as ox
import pytest
from conftest import BASE, write_json
from test_validation_support import OBO, base_document, term, validator

from fairtracks_ld.mapping.prepare import prepare
from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore
from fairtracks_ld.validation import (
    EXIT_INVALID,
    EXIT_VALID,
    Validator,
    default_shapes,
    exit_code,
    render_json,
    render_text,
    validate,
    validate_documents,
)
from fairtracks_ld.validation.builder import render_files, shapes_dir
from fairtracks_ld.validation.context import build_dataset
from fairtracks_ld.validation.crosscheck import engine_keys, pyshacl_keys
from fairtracks_ld.validation.rules import merged_rules
from fairtracks_ld.validation.vocab import SCHEMA_RULE
from fairtracks_ld.writing import write_version

COB_PLANNED = OBO + "COB_0000035"


def findings(document, store=None):
    report = (Validator(store) if store is not None else validator()).document(document)
    return report, [(f.severity, f.pointer) for f in report.findings]


def violations_at(report, pointer):
    return [f for f in report.violations if f.pointer == pointer]


# ---- the shapes ---------------------------------------------------------------------------


def test_shapes_are_generated_from_the_schemas():
    """Like context/, shapes/ is a build output: regenerating it changes nothing."""
    for name, text in render_files().items():
        assert (shapes_dir() / name).read_text(encoding="utf-8") == text, name


def test_every_schema_rule_has_a_shape():
    stated = {t.value for predicates in default_shapes().index.values()
              for t in predicates.get(SCHEMA_RULE, [])}
    missing = {s for rule in merged_rules() for s in rule.sources} - stated
    assert missing == set()


# ---- ontology terms -------------------------------------------------------------------------


def test_technique_must_be_a_planned_process_or_an_operation():
    document = base_document("v1-current")
    document["experiments"][0]["technique"] = term(OBO + "OBI_0100051", "specimen")
    report, _ = findings(document)
    [found] = violations_at(report, "/experiments/0/technique/term_id")
    assert "does not descend from" in found.message and found.value == OBO + "OBI_0100051"
    document["experiments"][0]["technique"] = term("http://www.ebi.ac.uk/efo/EFO_0003042",
                                                   "H1-hESC")
    report, _ = findings(document)
    [found] = violations_at(report, "/experiments/0/technique/term_id")
    assert "is not a class of" in found.message


def test_obsolete_ancestor_is_followed_to_its_replacement():
    """Techniques descend from COB_0000035, which replaces the schema's obsolete OBI_0000011."""
    report, _ = findings(base_document("master"))
    assert report.valid
    document = base_document("v1-current")
    document["experiments"][0]["technique"] = term(OBO + "OBI_0000011", "planned process")
    report, _ = findings(document)
    assert report.valid
    [obsolete] = [f for f in report.warnings if "obsolete" in f.message]
    assert obsolete.pointer == "/experiments/0/technique/term_id"
    assert COB_PLANNED in obsolete.message


def test_what_cannot_be_decided_offline_is_a_warning():
    document = base_document("v1-current")
    document["samples"][0]["phenotype"] = term(OBO + "NCIT_C3262", "Neoplasm")
    report, found = findings(document)
    assert report.valid
    assert ("Warning", "/samples/0/phenotype/term_id") in found
    assert ("Warning", "/samples/0/sample_type/cell_line/term_id") in found  # EFO → CL_0000010


def test_terms_of_a_subset_ontology_are_checked_where_it_knows_them():
    document = base_document("v1-current")
    document["experiments"][0]["target"]["gene_product_type"] = term(
        OBO + "NCIT_C12508", "Cell")
    report, found = findings(document)
    assert ("Warning", "/experiments/0/target/gene_product_type/term_id") in found
    assert report.valid  # the NCIT subset is partial: its hierarchy cannot refute


# ---- CURIEs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("pointer", "value", "severity"), [
    ("/studies/0/global_id", "geo:XYZ", "Violation"),
    ("/studies/0/global_id", "ega.study:EGAS00000000001", None),
    ("/tracks/0/assembly_id", "insdc.gca:GCF_000001405.26", None),
    ("/tracks/0/assembly_id", "insdc.gca:GCA_000001405.15", None),
    ("/tracks/0/assembly_id", "insdc.gca:hg38", "Violation"),
    ("/samples/0/species_id", "ncbitaxon:9606", "Violation"),
    ("/tracks/0/raw_file_ids/0", "insdc.sra:XYZ", "Violation"),
    ("/tracks/0/raw_file_ids/0", "pubmed:22955617", None),
    ("/tracks/0/raw_file_ids/0", "pubmed:nope", "Violation"),
    ("/tracks/0/raw_file_ids/0", "mylab:42", "Warning"),
    ("/experiments/0/target/gene_id", "HGNC:5", "Warning"),
])
def test_curie_namespaces_and_registry_patterns(pointer, value, severity):
    document = base_document("v1-current")
    *parents, last = pointer.strip("/").split("/")
    node = document
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    node[int(last) if isinstance(node, list) else last] = value
    report, found = findings(document)
    at = {s for s, p in found if p == pointer}
    assert at == ({severity} if severity else set()), (value, report.findings)


# ---- the store: uniqueness and references ----------------------------------------------------


def test_local_ids_are_unique_across_the_store_and_refs_may_point_into_it():
    store = TrackStore(None, base=BASE)
    first = base_document("v1-current")
    write_version(store, prepare(first, BASE), "first.json")
    second = base_document("v1-current")
    second["collection_info"]["local_id"] = "another"
    for study in second["studies"]:
        study["collection_ref"] = "another"
    second["doc_info"]["local_id"] = "another-doc"
    second["collection_info"]["doc_ref"] = "another-doc"
    report, _ = findings(second, store)
    track_id = first["tracks"][0]["local_id"]
    [clash] = violations_at(report, "/tracks/0/local_id")
    assert track_id in clash.message and "first" not in clash.message
    assert "document/" in clash.message  # names the document that already uses it
    # a new version of the same document replaces the old one: no clash with itself
    again = base_document("v1-current")
    again["doc_info"]["doc_version"] = "2"
    assert Validator(store).document(again).valid


def test_references_must_name_an_entity():
    document = base_document("v1-current")
    document["experiments"][0]["study_ref"] = "no-such-study"
    report, _ = findings(document)
    [broken] = violations_at(report, "/experiments/0/study_ref")
    assert broken.value == "no-such-study" and "no-such-study" in broken.message
    store = TrackStore(None, base=BASE)
    other = base_document("v1-current")
    other["doc_info"]["local_id"] = "other-doc"
    other["collection_info"]["doc_ref"] = "other-doc"
    other["studies"][0]["local_id"] = "no-such-study"
    write_version(store, prepare(other, BASE), "other.json")
    report, _ = findings(document, store)
    assert violations_at(report, "/experiments/0/study_ref") == []


# ---- advice ---------------------------------------------------------------------------------


def test_suggested_label_lengths_differ_between_variants():
    for variant, label, warned in (("v1-current", "x" * 18, True), ("master", "x" * 18, False),
                                   ("master", "x" * 26, True)):
        document = base_document(variant)
        document["tracks"][0]["label_short"] = label
        report, found = findings(document)
        assert report.valid
        assert (("Warning", "/tracks/0/label_short") in found) is warned, variant


# ---- reports --------------------------------------------------------------------------------


def test_pointers_name_the_json_the_provider_wrote():
    document = base_document("master")
    document["doc_info"]["doc_ontology_versions"]["http://purl.obolibrary.org/obo/so.owl"] = "x"
    document["tracks"][1]["checksum"]["cs_method"] = "CRC"
    document["experiments"][0]["aggregated_from"] = ["geo:GSE1", "GEO:1"]
    del document["samples"][0]["sample_type"]["summary"]
    document["collection_info"]["contact"]["orcid"] = 7
    report, _ = findings(document)
    pointers = {f.pointer for f in report.violations}
    assert {
        "/doc_info/doc_ontology_versions/http:~1~1purl.obolibrary.org~1obo~1so.owl",
        "/tracks/1/checksum/cs_method",
        "/experiments/0/aggregated_from/1",
        "/samples/0/sample_type/summary",
        "/collection_info/contact/orcid",
    } <= pointers
    [enum] = violations_at(report, "/tracks/1/checksum/cs_method")
    assert enum.value == "CRC" and "MD5, SHA-256" in enum.message and enum.standard
    [mistyped] = [f for f in violations_at(report, "/collection_info/contact/orcid")
                  if "must be a string" in f.message]
    assert mistyped.value == 7


def test_the_engine_and_pyshacl_agree_on_documents():
    broken = base_document("master")
    broken["experiments"][0]["technique"] = term(OBO + "OBI_0002019", "TF ChIP-seq")
    broken["experiments"][0]["study_ref"] = "nowhere"
    broken["tracks"][0]["label_short"] = "x" * 30
    broken["samples"][0]["species_id"] = "taxonomy:abc1"
    del broken["tracks"][1]["file_name"]
    documents = [json.loads(example_documents()["v1-current"].read_text()), broken]
    shapes = default_shapes()
    for document in documents:
        prepared = prepare(document, BASE)
        dataset = build_dataset(prepared, shapes, None, validator().ontologies)
        ours = validate(dataset.store, shapes, [ox.NamedNode(dataset.graph)], scratch=True)
        theirs, _ = pyshacl_keys(dataset.ntriples())
        assert Counter(engine_keys(ours)) == Counter(theirs)
        assert ours.results


def test_validate_documents_api_and_exit_codes(tmp_path):
    good = write_json(tmp_path / "good.json", base_document("master"))
    bad_document = base_document("v1-current")
    del bad_document["tracks"][0]["file_url"]
    bad = write_json(tmp_path / "bad.json", bad_document)
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json", encoding="utf-8")
    reports = validate_documents([str(good)])
    assert exit_code(reports) == EXIT_VALID and reports[0].variant == "master"
    reports = validate_documents([str(tmp_path)])
    assert [r.source.rsplit("/", 1)[1] for r in reports] == ["bad.json", "broken.json",
                                                             "good.json"]
    assert exit_code(reports) == EXIT_INVALID
    assert [f.pointer for f in reports[0].violations] == ["/tracks/0/file_url"]
    assert "malformed JSON" in reports[1].findings[0].message
    text = render_text(reports)
    assert "bad.json: INVALID" in text and "good.json: valid" in text
    as_json = json.loads(render_json(reports))
    assert as_json[0]["results"][0]["rules"] == ["fairtracks_track.schema.json#/required/4"]
    turtle = reports[0].shacl_report().decode()
    assert "sh:focusNode" in turtle and "fts:Track-file_url-minCount" in turtle
    unmappable = Validator().document({"@schema": "https://example.org/other"})
    assert not unmappable.valid and unmappable.findings[0].pointer == "/@schema"
    assert bad.exists()
