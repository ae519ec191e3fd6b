"""Ensembl track validation: every keyword of the model's JSON Schema broken once.

The schema is walked here independently of the shapes; each constraining keyword gets its own
mutated copy of an example. The report must name that keyword (`fts:schemaRule`) at the key's
JSON Pointer, or refuse the document in the mapping when the key names the track's IRI, and the
JSON Schema validator (jsonschema) must agree on validity. The CLI's exit codes hold.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from conftest import BASE, write_json

from fairtracks_ld.ensembl_model import example_documents, model_dir
from fairtracks_ld.validation import Validator

SCHEMA_FILE = "ensembl_track.schema.json"
SCHEMA = json.loads((model_dir() / SCHEMA_FILE).read_text())
EXAMPLES = {kind: json.loads(path.read_text()) for kind, path in example_documents().items()}
# Keys the track's IRI is made of: breaking them is refused by the mapping, with a pointer.
IDENTITY = {"/short_name", "/genome/genome_species", "/genome/genome_assembly",
            "/release/release_division", "/release/release_version"}
WRONG = {"string": 5, "boolean": "no", "integer": "89", "array": "ensembl", "object": "x"}


def _sites() -> dict[str, tuple[str, str]]:
    """Schema pointer of every constraining keyword → (JSON Pointer of its key, keyword)."""
    found: dict[str, tuple[str, str]] = {}

    def walk(node: dict, ptr: str, where: str) -> None:
        for index, key in enumerate(node.get("required", [])):
            found[f"#{ptr}/required/{index}"] = (f"{where}/{key}", "required")
        for key, child in node.get("properties", {}).items():
            site, place = f"{ptr}/properties/{key}", f"{where}/{key}"
            for keyword in ("type", "enum", "pattern", "format", "x-known-values"):
                if keyword in child:
                    found[f"#{site}/{keyword}"] = (place, keyword)
            if "type" in child.get("items", {}):
                found[f"#{site}/items/type"] = (place, "items")
            for index, entry in enumerate(child.get("allOf", [])):
                for number, member in enumerate(entry["then"]["required"]):
                    found[f"#{site}/allOf/{index}/then/required/{number}"] = (
                        f"{place}/{member}", "then:" + entry["if"]["properties"]
                        ["location_type"]["const"])
            walk(child, site, place)

    walk(SCHEMA, "", "")
    return found


SITES = _sites()


def _get(document: dict, pointer: str) -> tuple[dict, str]:
    *parents, key = pointer.split("/")[1:]
    for parent in parents:
        document = document[parent]
    return document, key


def _type_of(pointer: str) -> str:
    node = SCHEMA
    for key in pointer.split("/")[1:]:
        node = node["properties"][key]
    return node["type"]


def mutation(site: str) -> tuple[dict, Callable[[dict], Any]]:
    """The example a keyword is broken in, and how."""
    pointer, keyword = SITES[site]
    base = EXAMPLES["uri" if "location_uri" in pointer or keyword == "then:uri" else "mysql"]
    document = copy.deepcopy(base)
    holder, key = _get(document, pointer)
    if keyword in ("required", "then:mysql", "then:uri"):
        del holder[key]
    elif keyword == "type":
        holder[key] = WRONG[_type_of(pointer)]
    elif keyword == "items":
        holder[key] = ["ensembl", 7]
    else:
        holder[key] = {"enum": "disk", "x-known-values": "vertebrates",
                       "pattern": "s3://bucket/track.bb", "format": "http://exa mple.org/x.bb"
                       }[keyword]
    return document, holder


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def test_the_examples_are_valid_for_both(validator):
    for document in EXAMPLES.values():
        jsonschema.Draft202012Validator(SCHEMA).validate(document)
        report = validator.document(document)
        assert report.valid and not report.findings and report.variant == "ensembl", \
            report.findings


def test_the_walk_finds_every_kind_of_rule():
    kinds = {keyword for _, keyword in SITES.values()}
    assert kinds == {"required", "type", "enum", "pattern", "format", "x-known-values", "items",
                     "then:mysql", "then:uri"}
    assert len(SITES) == 41


@pytest.mark.parametrize("site", sorted(SITES))
def test_every_rule_broken_once_is_reported_where_it_is(site, validator):
    pointer, keyword = SITES[site]
    document, _ = mutation(site)
    report = validator.document(document, "mutated.json")
    in_identity = pointer in IDENTITY or any(p.startswith(pointer + "/") for p in IDENTITY)
    if in_identity and keyword in ("required", "type") and not (
            pointer == "/release/release_version" and keyword == "type"):
        # the mapping refuses to mint the track's IRI, naming the key, under the finding of
        # the key (or of its object) that the shapes report all the same
        (cause,) = [f for f in report.findings if any(c.rules == ["mapping"]
                                                      for c in f.consequences)]
        (refusal,) = [c for c in cause.consequences if c.rules == ["mapping"]]
        assert refusal.pointer in IDENTITY and refusal.pointer.startswith(pointer)
        assert cause.pointer == pointer and site in {r.removeprefix(SCHEMA_FILE)
                                                      for r in cause.rules}
    else:
        expected = {"items": site.removesuffix("/items/type") + "/type"}.get(keyword, site)
        at = pointer
        hits = [f for f in report.findings if f.pointer == at
                and any(rule.endswith(expected) for rule in f.rules)]
        assert hits, (site, [(f.pointer, f.rules) for f in report.findings])
        severity = "Warning" if keyword == "x-known-values" else "Violation"
        assert {f.severity for f in hits} == {severity}
    if keyword != "format":  # jsonschema checks format "uri" only with rfc3987 installed
        schema_valid = jsonschema.Draft202012Validator(SCHEMA).is_valid(document)
        assert schema_valid == report.valid == (keyword == "x-known-values"), site


def test_hostile_and_unknown_keys_are_kept_inert(validator):
    document = copy.deepcopy(EXAMPLES["mysql"])
    document.update({"@context": {"short_name": "http://evil.example/p"}, "@id": "http://x/",
                     "@graph": [{"@id": "http://victim/"}], "@type": "ft:Collection"})
    document["genome"]["@id"] = "http://evil.example/genome"
    document["location"]["@reverse"] = {"ft:tracks": "http://victim/"}
    report = validator.document(document)
    assert report.valid and not report.findings


def test_cli_validates_both_models_with_the_same_exit_codes(tmp_path, examples):
    good = str(example_documents()["mysql"])
    bad_doc, _ = mutation("#/properties/genome/properties/genome_strain/type")
    bad = str(write_json(tmp_path / "bad.json", bad_doc))
    neither = str(write_json(tmp_path / "neither.json", {"name": "a track"}))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--base-iri", BASE,
                               "validate", *args], capture_output=True, text=True, timeout=120)

    ok = run(good, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)[0]["variant"] == "ensembl"
    failed = run(good, bad, neither, "--format", "json")
    assert failed.returncode == 1
    reports = json.loads(failed.stdout)
    assert [r["valid"] for r in reports] == [True, False, False]
    assert reports[1]["results"][0]["pointer"] == "/genome/genome_strain"
    assert "matches neither model" in reports[2]["results"][0]["message"]
    forced = run(good, "--model", "fairtracks")
    assert forced.returncode == 1 and "unknown @schema" in forced.stdout


def test_a_track_that_cannot_be_named_is_reported_in_full(validator, tmp_path):
    """Missing track_type, genome and release: jsonschema's three errors, each at its key, and
    still no IRI minted (the refusal comes under the finding of the key it needs)."""
    document = copy.deepcopy(EXAMPLES["mysql"])
    for key in ("track_type", "genome", "release"):
        del document[key]
    expected = sorted(f"/{e.message.split(chr(39))[1]}" for e in
                      jsonschema.Draft202012Validator(SCHEMA).iter_errors(document))
    assert expected == ["/genome", "/release", "/track_type"]
    report = validator.document(document, "unnamed.json")
    assert not report.valid and report.graph is None and report.report is None
    assert sorted(f.pointer for f in report.violations) == expected
    assert {f.message for f in report.violations} == {
        "'track_type' is required", "'genome' is required", "'release' is required"}
    [genome] = [f for f in report.violations if f.pointer == "/genome"]
    assert genome.rules == [f"{SCHEMA_FILE}#/required/4"]
    [refusal] = genome.consequences
    assert refusal.rules == ["mapping"] and "mint the track's IRI" in refusal.message
    path = write_json(tmp_path / "unnamed.json", document)
    result = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--base-iri", BASE,
                             "validate", str(path), "--format", "json"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    [answer] = json.loads(result.stdout)
    assert sorted(f["pointer"] for f in answer["results"]) == expected
