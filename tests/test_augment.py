"""`augment`: offline FAIRtracks augmentation, with the real bundle and the real validator."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import BASE, write_json

from fairtracks_ld.augment import augment, schema_version_iri, term_fields
from fairtracks_ld.generate import generate_documents
from fairtracks_ld.mapping.models import FAIRTRACKS
from fairtracks_ld.validation import Validator
from fairtracks_ld.validation.context import bundled_ontologies

AUGMENTED_KEYS = ("term_label", "summary", "file_name", "species_name")
SO = "http://purl.obolibrary.org/obo/so.owl"


@pytest.fixture(scope="module")
def bundle():
    return bundled_ontologies()


@pytest.fixture(scope="module")
def validator(bundle) -> Validator:
    return Validator(ontologies=bundle)


def check(validator: Validator, document: dict[str, Any]):
    return validator.document(document, model=FAIRTRACKS)


def leaves(node: Any, pointer: str = "") -> dict[str, Any]:
    """Every scalar of a document by JSON Pointer."""
    if isinstance(node, dict):
        items = ((k.replace("~", "~0").replace("/", "~1"), v) for k, v in node.items())
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return {pointer: node}
    found: dict[str, Any] = {}
    for key, value in items:
        found.update(leaves(value, f"{pointer}/{key}"))
    return found


def strip(node: Any) -> None:
    """Remove what the augmentation service fills in."""
    if isinstance(node, dict):
        for key in AUGMENTED_KEYS:
            node.pop(key, None)
        for value in node.values():
            strip(value)
    elif isinstance(node, list):
        for value in node:
            strip(value)


def ontology_labels(bundle, term: str) -> set[str]:
    """The term's labels in any bundled ontology (CL terms are also in OBI's imports)."""
    rows = bundle.store.query(f"SELECT ?l WHERE {{ GRAPH ?g {{ <{term}> "
                              f"<http://www.w3.org/2000/01/rdf-schema#label> ?l }} }}")
    return {row["l"].value for row in rows}


def test_v1_example_becomes_a_valid_augmented_document(example, bundle, validator):
    assert check(validator, example).valid and "has_augmented_metadata" not in example["doc_info"]
    before = copy.deepcopy(example)
    result = augment(example, bundle)
    assert example == before  # the input is not touched
    doc = result.document
    report = check(validator, doc)
    assert report.valid and report.variant == "master", report.violations
    assert doc["doc_info"]["has_augmented_metadata"] is True
    assert list(doc["doc_info"])[:4] == ["local_id", "doc_url", "doc_ontology_versions",
                                         "has_augmented_metadata"]
    terms = [(p.rsplit("/", 1)[0], v) for p, v in leaves(doc).items() if p.endswith("/term_id")]
    assert len(terms) == 10
    for pointer, term in terms:
        assert {leaves(doc)[pointer + "/term_label"]} == ontology_labels(bundle, term), pointer
    sample = doc["samples"][0]
    assert sample["sample_type"]["summary"] == "H1-hESC (embryo)"  # cell line (organism part)
    assert sample["species_name"] == "Homo sapiens"
    assert doc["experiments"][0]["target"]["summary"] == "H3K4_trimethylation"
    assert [t["file_name"] for t in doc["tracks"]] == [
        "ENCFF625ZYB.bed.gz", "ENCFF718EPO.bigBed", "ENCFF717PIO.bigWig", "ENCFF955LOC.bigWig"]
    versions = doc["doc_info"]["doc_ontology_versions"]
    assert versions["http://edamontology.org/EDAM.owl"] == "http://edamontology.org/EDAM_1.25.owl"
    assert versions["http://purl.obolibrary.org/obo/cl.owl"] == (
        "http://purl.obolibrary.org/obo/cl/releases/2022-12-15/cl.owl")  # from cl-basic
    assert versions[SO] == "http://purl.obolibrary.org/obo/so/2024-11-18/so.owl"
    # the NCIT subset has no release: the document's entry stays, with a note
    assert versions["http://purl.obolibrary.org/obo/ncit.owl"] == (
        before["doc_info"]["doc_ontology_versions"]["http://purl.obolibrary.org/obo/ncit.owl"])
    notes = {n.pointer: n for n in result.notes}
    assert "without a release" in notes[
        "/doc_info/doc_ontology_versions/http:~1~1purl.obolibrary.org~1obo~1ncit.owl"].message
    assert "'r1.narrowPeak.gz'" in notes["/tracks/0/file_name"].message
    assert not result.warnings


def test_master_example_stripped_and_reaugmented_reproduces_it(examples, bundle, validator):
    official = examples["master"]
    stripped = copy.deepcopy(official)
    strip(stripped)
    stripped["doc_info"]["has_augmented_metadata"] = False  # a plain master document
    assert check(validator, stripped).valid
    result = augment(stripped, bundle)
    assert check(validator, result.document).valid
    got, want = leaves(result.document), leaves(official)
    differ = {p for p in got.keys() | want.keys() if got.get(p) != want.get(p)}
    # every label, summary, file name and species name is the official one; only the ontology
    # releases differ (the bundle's are newer; NCIT's is kept, the subset has none)
    versions = "/doc_info/doc_ontology_versions/"
    assert differ and all(p.startswith(versions) for p in differ)
    obo = "purl.obolibrary.org~1obo~1"
    assert {p.removeprefix(versions) for p in differ} == {
        f"http:~1~1{o}" for o in ("edamontology.org~1EDAM.owl", "www.ebi.ac.uk~1efo~1efo.owl",
                                  *(f"{obo}{k}.owl" for k in ("cl", "obi", "so", "uberon")))}
    assert list(leaves(result.document)) == list(want)  # same keys, in the same order


def test_generated_documents_augment_or_say_exactly_what_is_missing(bundle, validator):
    docs = list(generate_documents(tracks=120, seed=7, tracks_per_document=60))
    outcomes = []
    for doc in docs:
        for experiment in doc["experiments"]:
            experiment["target"].pop("summary", None)
        result = augment(doc, bundle)
        report = check(validator, result.document)
        warned = {n.pointer for n in result.warnings}
        assert {f.pointer for f in report.violations} <= warned
        outcomes.append(report.valid)
        for pointer, value in leaves(result.document).items():
            if pointer.endswith("/term_label") and pointer not in warned:
                term = leaves(result.document)[pointer.replace("term_label", "term_id")]
                assert value in ontology_labels(bundle, term)
    # Hi-C's NCIT_C13402 has no label offline: those experiments cannot be completed
    assert outcomes == [False, True]
    missing = [n for n in augment(docs[0], bundle).warnings if "NCIT:C13402" in n.message]
    assert missing and all(n.pointer.endswith("/macromolecular_structure/term_label")
                           for n in missing)


def test_labels_and_summaries_follow_the_ontology_and_the_service(example, bundle):
    doc = copy.deepcopy(example)
    doc["experiments"][0]["technique"]["term_label"] = "ChIP"
    doc["experiments"][0]["target"]["details"] = "rabbit antibody"
    doc["samples"][0]["sample_type"]["details"] = "passage 20"
    doc["samples"][0]["species_id"] = "taxonomy:10090"
    result = augment(doc, bundle)
    out = result.document
    assert out["experiments"][0]["technique"]["term_label"] == (
        "histone modification identification by ChIP-Seq assay")
    assert "replaced 'ChIP'" in {n.pointer: n.message for n in result.notes}[
        "/experiments/0/technique/term_label"]
    assert out["experiments"][0]["target"]["summary"] == "H3K4_trimethylation (rabbit antibody)"
    assert out["samples"][0]["sample_type"]["summary"] == "H1-hESC (embryo, passage 20)"
    assert out["samples"][0]["species_name"] == "Mus musculus"


def test_unknown_terms_and_species_give_notes(example, bundle, validator):
    doc = copy.deepcopy(example)
    doc["samples"][0]["sample_type"]["organism_part"]["term_id"] = (
        "http://purl.obolibrary.org/obo/UBERON_9999999")
    del doc["samples"][0]["sample_type"]["organism_part"]["term_label"]
    doc["samples"][0]["species_id"] = "taxonomy:1234567"
    doc["tracks"][0]["file_url"] = "https://example.org/files/"
    result = augment(doc, bundle)
    warnings = {n.pointer: n.message for n in result.warnings}
    assert set(warnings) == {"/samples/0/sample_type/organism_part/term_label",
                             "/samples/0/species_name", "/tracks/0/file_name"}
    assert "UBERON:9999999 has no label" in warnings[
        "/samples/0/sample_type/organism_part/term_label"]
    assert "kept the document's 'Homo sapiens'" in warnings["/samples/0/species_name"]
    assert "term_label" not in result.document["samples"][0]["sample_type"]["organism_part"]
    report = check(validator, result.document)
    assert not report.valid
    assert "/samples/0/sample_type/organism_part/term_label" in {
        f.pointer for f in report.violations}


def test_release_in_the_form_the_master_schema_asks():
    assert schema_version_iri(SO, ["http://purl.obolibrary.org/obo/so/releases/2099-01-01/so.owl"]
                              ) == "http://purl.obolibrary.org/obo/so/2099-01-01/so.owl"
    assert schema_version_iri("http://edamontology.org/EDAM.owl",
                              ["http://edamontology.org/1.25", "1.25-20200618T0915Z"]
                              ) == "http://edamontology.org/EDAM_1.25.owl"
    assert schema_version_iri(SO, ["https://w3id.org/x/subset/bc40665ba778"]) is None
    assert {o for _, names in term_fields() for o in names} >= {
        SO, "http://purl.obolibrary.org/obo/ncit.owl", "http://www.ebi.ac.uk/efo/efo.owl"}


def test_labels_come_from_the_store_when_it_has_ontologies(example, store, tmp_path):
    from fairtracks_ld.ontology.install import add_ontology
    from fairtracks_ld.validation.context import store_ontologies

    obo = tmp_path / "so.obo"
    obo.write_text("format-version: 1.2\ndata-version: releases/2099-01-01\nontology: so\n\n"
                   "[Term]\nid: SO:0001706\nname: H3K4 trimethylation, test release\n")
    add_ontology(store, str(obo), reason=False)
    result = augment(example, store_ontologies(store))
    target = result.document["experiments"][0]["target"]
    assert target["sequence_feature"]["term_label"] == "H3K4 trimethylation, test release"
    assert target["summary"] == "H3K4 trimethylation, test release"
    assert result.document["doc_info"]["doc_ontology_versions"][SO] == (
        "http://purl.obolibrary.org/obo/so/2099-01-01/so.owl")
    # the other ontologies are not in this store: their labels are kept, each with a warning
    assert "no loaded ontology" in {n.pointer: n.message for n in result.warnings}[
        "/tracks/0/file_format/term_label"]


def run(*args: str, stdin: bytes | None = None, store: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
         "augment", *args], input=stdin, capture_output=True, timeout=120, check=False)


def test_cli(example, examples, tmp_path, validator):
    nostore = tmp_path / "no-store"  # absent: the shipped bundle is used
    out = tmp_path / "augmented.json"
    done = run("-", "-o", str(out), stdin=json.dumps(example).encode(), store=nostore)
    assert done.returncode == 0, done.stderr.decode()
    augmented = json.loads(out.read_text(encoding="utf-8"))
    assert augmented == augment(example, bundled_ontologies()).document
    assert check(validator, augmented).valid
    assert not nostore.exists()

    official = write_json(tmp_path / "official.json", examples["v1-current"])  # its CURIE slip
    refused = run(str(official), store=nostore)
    assert refused.returncode == 1 and refused.stdout == b""
    assert b"/tracks/0/raw_file_ids/0" in refused.stderr

    mine = write_json(tmp_path / "mine.json", example)
    before = mine.read_bytes()
    assert run(str(mine), "-o", str(mine), store=nostore).returncode == 2
    assert mine.read_bytes() == before
    assert run(str(tmp_path / "absent.json"), store=nostore).returncode == 2


SERVICE_INPUT = Path(__file__).parent / "data" / "fairtracks_augment" / \
    "fairtracks.minimal.example.json"
NCIT_RELEASE = "ncit=http://purl.obolibrary.org/obo/ncit/releases/2020-07-17/ncit.owl"


def test_the_augmentation_services_own_test_input(tmp_path, validator):
    """Minimal input (no labels, summaries, file names, species names or ontology versions) is
    accepted as the service accepts it; its one real problem is reported alone; the output is
    what is validated."""
    nostore = tmp_path / "no-store"
    refused = run(str(SERVICE_INPUT), store=nostore)
    assert refused.returncode == 1
    errors = refused.stderr.decode()
    assert "1 violation(s)" in errors and "/tracks/0/raw_file_ids/0" in errors
    assert "is required" not in errors  # the fields augmentation writes are not held against it

    minimal = json.loads(SERVICE_INPUT.read_text(encoding="utf-8"))
    minimal["tracks"][0]["raw_file_ids"][0] = "encode:ENCFF207FGO"
    assert "term_label" not in json.dumps(minimal)
    stdin = json.dumps(minimal).encode()
    unknown_ncit = run("-", stdin=stdin, store=nostore)  # the bundled NCIT has no release
    assert unknown_ncit.returncode == 1 and unknown_ncit.stdout == b""
    assert b"--ontology-version" in unknown_ncit.stderr

    done = run("-", "--ontology-version", NCIT_RELEASE, stdin=stdin, store=nostore)
    assert done.returncode == 0, done.stderr.decode()
    augmented = json.loads(done.stdout)
    assert check(validator, augmented).valid
    versions = augmented["doc_info"]["doc_ontology_versions"]
    assert versions["http://purl.obolibrary.org/obo/ncit.owl"] == NCIT_RELEASE.split("=")[1]
    sample = augmented["samples"][0]
    assert sample["sample_type"]["cell_line"]["term_label"] and sample["species_name"]
    assert augmented["tracks"][0]["file_name"]
    assert run("-", "--ontology-version", "nope=x", stdin=stdin, store=nostore).returncode == 2
