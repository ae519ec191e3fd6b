"""What providers read is right on the one-rule mutation corpus (tests/test_validation_standard):
each mutation that used to give a misleading message now gives one finding in the schema's
words, at its own JSON Pointer, with the findings it causes under it; the W3C report stays
exact. Then the same through `validate` run as a process (text and JSON)."""

from __future__ import annotations

import json
import subprocess
import sys

import pyoxigraph as ox
from conftest import BASE, write_json
from test_validation_standard import CASES, mutate
from test_validation_support import base_document, validate_many, validator

from fairtracks_ld.validation.report import Report


def mutant(source: str, keyword: str | None = None, variant: str | None = None
           ) -> tuple[dict, str]:
    """The corpus mutation of one schema keyword (`file#pointer`): document and its pointer."""
    for name, site in CASES:
        if site.source == source and keyword in (None, site.keyword) and variant in (None, name):
            return mutate(name, site)
    raise AssertionError(f"no corpus case for {source}")


def shown(source: str, keyword: str | None = None, variant: str | None = None):
    """The top-level violations of a mutation (validated alone), and its raw SHACL report."""
    document, pointer = mutant(source, keyword, variant)
    report = validator().document(document)
    return report.violations, pointer, report.report


TECHNIQUE = "fairtracks_experiment.schema.json#/properties/technique/properties/term_id"


def test_a_term_id_of_the_wrong_pattern_is_one_pattern_finding_with_a_hint():
    violations, pointer, raw = shown(f"{TECHNIQUE}/pattern")
    [found] = violations
    assert (found.pointer, found.message, found.value) == (
        pointer, "'term_id' must match the pattern ^(https?|ftp)://", "mailto:a@example.org")
    assert found.rules == [f"{TECHNIQUE}/pattern"]
    assert "full IRI" in found.hint and "http://purl.obolibrary.org/obo/OBI_0002017" in found.hint
    # the "is required" the misplaced value also produces is under it, not beside it
    assert [(c.pointer, c.message) for c in found.consequences] == [
        (pointer, "'term_id' is required")]
    assert "must be a string" not in json.dumps(found.to_json())
    # the W3C report still says exactly what SHACL found: both results, as they were
    components = sorted(r.component.rsplit("#", 1)[-1] for r in raw.violations)
    assert components == ["MaxCountConstraintComponent", "MinCountConstraintComponent"]


def test_a_type_error_carries_the_required_it_causes():
    violations, pointer, _ = shown("fairtracks_track.schema.json#/properties/file_url/type")
    [found] = violations
    assert (found.pointer, found.message, found.value) == (
        pointer, "'file_url' must be a string", 12345)
    assert [c.message for c in found.consequences] == ["'file_url' is required"]
    # a wrong type on a constrained value: the other keywords that fail with it go under it
    violations, pointer, _ = shown("fairtracks_track.schema.json#/properties/@schema/type")
    [found] = violations
    assert found.message == "'@schema' must be a string"
    assert len(found.consequences) == 3 and all(c.pointer == pointer for c in found.consequences)


def test_one_error_of_two_shapes_is_reported_once():
    violations, pointer, raw = shown("fairtracks.schema.json#/properties/doc_info/properties/"
                                     "doc_date/format")
    [found] = violations
    assert found.pointer == pointer and found.message.startswith("'doc_date' must be a date")
    assert len(raw.violations) == 2  # the datatype shape and the pattern shape


def test_array_and_item_types_say_the_one_the_schema_means():
    violations, pointer, _ = shown("fairtracks.schema.json#/properties/tracks/type")
    assert [(f.pointer, f.message) for f in violations] == [("/tracks", "'tracks' must be an "
                                                                        "array")]
    violations, pointer, _ = shown("fairtracks_track.schema.json#/type")
    assert [(f.pointer, f.message, f.value) for f in violations] == [
        ("/tracks/0", "each item of 'tracks' must be an object", "not an object")]
    assert pointer == "/tracks/0"
    violations, pointer, _ = shown("fairtracks_track.schema.json#/properties/raw_file_ids/"
                                   "items/type")
    assert [(f.pointer, f.message, f.value) for f in violations] == [
        (pointer, "each item of 'raw_file_ids' must be a string", 12345)]


def test_references_name_an_experiment_with_the_right_article():
    violations, _, _ = shown("fairtracks.schema.json#/required/4", "required")
    [found] = violations
    assert (found.pointer, found.message) == ("/experiments", "'experiments' is required")
    messages = {c.message.split(":")[0] for c in found.consequences}
    assert messages == {"'experiment_ref' names an experiment that is neither in this document "
                        "nor in the store"}


def test_missing_keys_point_at_the_key():
    for source in ("fairtracks_study.schema.json#/required/0",
                   "fairtracks_experiment.schema.json#/required/0",
                   "fairtracks_sample.schema.json#/required/0",
                   "fairtracks_track.schema.json#/required/0",
                   "fairtracks.schema.json#/properties/doc_info/properties/"
                   "doc_ontology_versions/required/0"):
        violations, pointer, _ = shown(source, "required")
        assert [f.pointer for f in violations] == [pointer], source
    [found] = shown("fairtracks_experiment.schema.json#/required/0", "required")[0]
    assert found.message.startswith("an experiment needs a non-empty string local_id")


def test_a_dangling_reference_is_reported_under_the_missing_local_id():
    violations, pointer, raw = shown("fairtracks.schema.json#/properties/collection_info/"
                                     "required/0", "required", "master")
    [found] = violations
    assert (found.pointer, found.message) == (pointer, "'local_id' is required")
    [caused] = found.consequences
    assert caused.pointer == "/studies/0/collection_ref" and caused.message.startswith(
        "'collection_ref' names a collection that is neither")
    assert len(raw.violations) == 2  # the W3C report keeps both, side by side
    violations, _, _ = shown("fairtracks.schema.json#/properties/doc_info/properties/local_id/"
                             "type")
    [found] = violations
    assert found.message == "'local_id' must be a string"
    assert [c.pointer for c in found.consequences] == ["/collection_info/doc_ref"]


def test_the_turtle_report_is_the_exact_one():
    document, _ = mutant(f"{TECHNIQUE}/pattern")
    report = validator().document(document)
    store = ox.Store()
    store.load(report.shacl_report(), format=ox.RdfFormat.TURTLE)
    [count] = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?r a "
                          "<http://www.w3.org/ns/shacl#ValidationResult> }")
    assert int(count["n"].value) == len(report.report.results) > len(report.findings)
    assert isinstance(report.report, Report)


def test_validate_prints_causes_under_their_finding(tmp_path):
    document, _ = mutant("fairtracks.schema.json#/required/4", "required")
    path = write_json(tmp_path / "no-experiments.json", document)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--base-iri", BASE,
                               "validate", str(path), *args], capture_output=True, text=True,
                              timeout=300)

    text = run()
    assert text.returncode == 1
    lines = text.stdout.splitlines()
    assert "1 violation(s)" in lines[0]
    assert lines[1] == "  violation: /experiments: 'experiments' is required"
    assert lines[2].startswith("      also causes: /tracks/0/experiment_ref: 'experiment_ref' "
                               "names an experiment")
    assert [line.split(":")[0] for line in lines[2:5]] == ["      also causes"] * 3
    [report] = json.loads(run("--format", "json").stdout)
    first = report["results"][0]
    assert report["violations"] == 1
    assert first["pointer"] == "/experiments" and len(first["also_causes"]) == 3


def test_load_reports_causes_under_their_finding(tmp_path):
    """The refused document's text lines and its `--report` JSON nest what a finding causes."""
    document, _ = mutant("fairtracks.schema.json#/required/4", "required")
    path = write_json(tmp_path / "no-experiments.json", document)
    report = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store",
                             str(tmp_path / "store"), "--base-iri", BASE, "load", str(path),
                             "--report", str(report)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "breaks the standard: 1 violation(s)" in output
    assert "  violation: /experiments: 'experiments' is required" in output
    assert "also causes: /tracks/0/experiment_ref" in output
    [source] = json.loads(report.read_text())["sources"]
    assert source["status"] == "refused"
    [finding] = [f for f in source["findings"] if f["severity"] == "Violation"]
    assert [c["pointer"] for c in finding["also_causes"]] == [
        "/tracks/0/experiment_ref", "/tracks/1/experiment_ref", "/tracks/2/experiment_ref"]


def test_a_local_id_used_elsewhere_is_no_cause_of_a_dangling_reference():
    """Two documents validated together share their local_ids (each is reported as used by the
    other); a study_ref naming no study at all stays a finding of its own."""
    first, second = base_document("v1-current"), base_document("v1-current")
    second["experiments"][0]["study_ref"] = "no-such-study"
    _, report = validate_many([first, second])
    dangling = [f for f in report.violations if f.pointer == "/experiments/0/study_ref"]
    assert len(dangling) == 1 and "names a study" in dangling[0].message
    assert any(f.shape.endswith("Study-local_id-unique") for f in report.violations)
