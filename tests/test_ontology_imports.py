"""Terms of an ontology that the schema's ontology imports count as its classes: the cell_line
rule names efo.owl and the ancestor CL_0000010 (cultured cell), a CL class; EFO imports CL, but
the bundled EFO holds only EFO classes. A CL term is a class of EFO; its descent from a CL class
is decided by CL; an EFO cell line's descent (through CLO, not bundled) stays undecided."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from conftest import copy_store, read

from fairtracks_ld.validation import Validator

OBO = "http://purl.obolibrary.org/obo/"
EXAMPLE_2020 = Path(__file__).parent / "data" / "fairtracks_2020" / \
    "fairtracks.example.2020-01-09.json"
CELL_LINE = "/samples/0/sample_type/cell_line/term_id"


@pytest.fixture(scope="module", params=["bundle", "store"])
def validator(request, bundle_template, tmp_path_factory) -> Validator:
    """The bundled ontologies read directly (closure computed), and a store holding them (its
    materialised closure graph)."""
    if request.param == "bundle":
        return Validator()
    return Validator(copy_store(bundle_template, tmp_path_factory.mktemp("imports") / "store"))


def cell_line_findings(validator: Validator, document) -> list[tuple[str, str]]:
    report = validator.document(document)
    return [(f.severity, f.message) for f in report.findings if f.pointer == CELL_LINE]


def with_cell_line(example, term: str):
    document = copy.deepcopy(example)
    document["samples"][0]["sample_type"]["cell_line"]["term_id"] = term
    return document


def test_the_2020_example_is_refused_for_its_true_reasons(validator):
    report = validator.document(read(EXAMPLE_2020))
    assert [(f.pointer, f.message) for f in report.violations] == [
        (CELL_LINE, f"'term_id' {OBO}CL_0000236 does not descend from {OBO}CL_0000010"),
        ("/tracks/0/raw_file_ids/0",
         "'raw_file_ids' must be a CURIE (prefix:identifier, no spaces)")]
    assert not any("is not a class of" in f.message for f in report.findings)


def test_the_schemas_own_ancestor_is_a_cell_line_term(validator, example):
    assert cell_line_findings(validator, with_cell_line(example, OBO + "CL_0000010")) == []


def test_an_efo_cell_line_stays_undecided_not_refused(validator, example):
    [(severity, message)] = cell_line_findings(validator, example)  # EFO_0003042
    assert severity == "Warning" and "cannot be decided" in message


@pytest.mark.parametrize("term", [OBO + "CL_9999999", OBO + "GO_0005634"])
def test_a_term_of_no_imported_ontology_is_still_refused(validator, example, term):
    [(severity, message)] = cell_line_findings(validator, with_cell_line(example, term))
    assert severity == "Violation"
    assert message == f"'term_id' {term} is not a class of http://www.ebi.ac.uk/efo/efo.owl"


def test_other_rules_are_unchanged_by_imports(validator, example):
    """A CL term is no class of UBERON (organism_part): imports are EFO's only."""
    document = copy.deepcopy(example)
    document["samples"][0]["sample_type"]["organism_part"]["term_id"] = OBO + "CL_0000236"
    findings = [f for f in validator.document(document).violations
                if f.pointer == "/samples/0/sample_type/organism_part/term_id"]
    assert [f.message for f in findings] == [
        f"'term_id' {OBO}CL_0000236 is not a class of {OBO}uberon.owl"]
