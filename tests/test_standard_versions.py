"""Which FAIRtracks versions are read: documents of the newer draft (v2: a `document` block,
`@schema` under v2/) and single objects of per-object schemas are told so in plain words,
instead of "'doc_info' is required" or "unknown @schema"."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import read, write_json

from fairtracks_ld.paths import data_dir
from fairtracks_ld.validation import Validator

DRAFT = Path(__file__).parent / "data" / "fairtracks_v2_draft" / "fairtracks.v2-draft.json"
V2 = "https://raw.githubusercontent.com/fairtracks/fairtracks_standard/v2/current/json/schema/"


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def only_finding(validator: Validator, document) -> tuple[str, str]:
    report = validator.document(document)
    assert not report.valid
    [finding] = report.findings
    assert "'doc_info' is required" not in finding.message
    return finding.pointer, finding.message


def test_a_v2_draft_document_is_named_as_such(validator):
    pointer, message = only_finding(validator, read(DRAFT))
    assert pointer == "/@schema"
    assert "FAIRtracks v2 draft, which fairtracks-ld does not support" in message
    assert "FAIRtracks v1 documents" in message  # and says what is supported


def test_the_renamed_block_under_a_v1_schema_is_named_as_such(validator, examples):
    document = copy.deepcopy(examples["v1-current"])
    document["document"] = document.pop("doc_info")
    pointer, message = only_finding(validator, document)
    assert pointer == "/document"
    assert "'document' is the newer draft's name for v1's 'doc_info'" in message


@pytest.mark.parametrize("name", ["track", "sample", "experiment"])
def test_per_object_schemas_of_the_draft(validator, name):
    document = {"@schema": f"{V2}fairtracks_{name}.schema.json", "local_id": "x"}
    pointer, message = only_finding(validator, document)
    assert pointer == "/@schema" and "v2 draft" in message and "unknown" not in message


def test_a_single_v1_object_is_named_as_such(validator):
    track = read(data_dir("standard") / "v1-current" / "examples" /
                 "fairtracks_track.example.json")
    pointer, message = only_finding(validator, track)
    assert pointer == "/@schema"
    assert "describes a single track object" in message and "whole documents" in message


def test_the_cli_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(tmp_path / "none"),
         "validate", "--format", "json", str(DRAFT)], capture_output=True, text=True,
        timeout=120, check=False)
    assert result.returncode == 1
    [report] = json.loads(result.stdout)
    assert "v2 draft" in report["results"][0]["message"]
    load = subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(tmp_path / "store"), "load",
         str(write_json(tmp_path / "draft.json", read(DRAFT)))], capture_output=True,
        text=True, timeout=120, check=False)
    assert load.returncode == 1 and "does not support" in load.stderr + load.stdout
