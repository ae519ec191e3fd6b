"""What the validation service answers about findings, against a real `fairtracks-ld serve`:
findings caused by another come under their cause (`also_causes`), and `groups` sums a
document's findings up by rule, so one systematic mistake in many tracks is one group with
its count, on every route; the answer stays the FAIRtracks validator's shape."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Iterator

import pytest
import requests
from servers import ANSWER_SECONDS, cli, free_port, serve
from test_web_browser import browser  # noqa: F401  (the shared Chromium fixture)

from fairtracks_ld.ensembl_model import example_documents as ensembl_examples
from fairtracks_ld.generate import generate_documents
from fairtracks_ld.standard import example_documents

TRACKS = 1500


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[str]:
    """A server whose snapshot holds the master example (the validation context)."""
    folder = tmp_path_factory.mktemp("answers")
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", str(example_documents()["master"]))
    with serve(store, port, workers=1) as base:
        yield base + "validate"


@pytest.fixture(scope="module")
def systematic() -> dict:
    """A document of many tracks, every one without its file_url."""
    document = next(generate_documents(TRACKS, seed=3, tracks_per_document=TRACKS))
    for track in document["tracks"]:
        track.pop("file_url")
    return document


def test_one_systematic_mistake_is_one_group_with_its_count(service, systematic):
    answer = requests.post(service, json=systematic, timeout=ANSWER_SECONDS).json()
    assert answer["validated"] is False
    assert len(answer["errors"]) == TRACKS  # the validator's per-finding list is kept
    [group] = [g for g in answer["groups"] if g["severity"] == "Violation"]
    assert group["count"] == TRACKS and group["alike"] is True
    assert group["message"] == "'file_url' is required"
    assert group["pointers"][:2] == ["/tracks/0/file_url", "/tracks/1/file_url"]
    assert len(group["pointers"]) == 10
    assert group["rules"] and group["hint"] == "add 'file_url' here: the schema requires it"
    assert group["rule"].endswith("Track-file_url-minCount")


def test_groups_on_every_route(service, systematic):
    small = copy.deepcopy(systematic)
    small["tracks"] = small["tracks"][:4]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("small.json", json.dumps(small))
    wait = ANSWER_SECONDS
    answers = [
        *requests.post(service + "/array", json=[small], timeout=wait).json(),
        *requests.post(service + "/archive", data=buffer.getvalue(), timeout=wait).json(),
        *requests.post(service + "/multipart", files={"file": ("small.zip", buffer.getvalue())},
                       timeout=wait).json(),
    ]
    assert len(answers) == 3
    for answer in answers:
        [group] = [g for g in answer["groups"] if g["severity"] == "Violation"]
        assert group["count"] == 4, answer["file"]


def test_a_dangling_reference_comes_under_its_cause(service, systematic):
    document = copy.deepcopy(systematic)
    document["tracks"] = document["tracks"][:2]
    for track in document["tracks"]:
        track["file_url"] = "https://example.org/a.bed"
    del document["experiments"]
    answer = requests.post(service, json=document, timeout=ANSWER_SECONDS).json()
    [error] = answer["errors"]
    assert error["path"] == "/experiments"
    assert error["description"] == "Path: /experiments . Message: 'experiments' is required"
    caused = error["also_causes"]
    assert [c["path"] for c in caused] == ["/tracks/0/experiment_ref", "/tracks/1/experiment_ref"]
    assert all(c["reason"] == "stale_fk" and "names an experiment" in c["message"]
               for c in caused)
    [group] = [g for g in answer["groups"] if g["severity"] == "Violation"]
    assert group["count"] == 1 and group["also_causes"] == 2


def test_the_description_documents_groups(service):
    schemas = requests.get(service + "/openapi.json", timeout=30).json()["components"]["schemas"]
    assert schemas["Validation"]["properties"]["groups"]["items"] == {
        "$ref": "#/components/schemas/Group"}
    assert {"count", "pointers", "rule"} <= set(schemas["Group"]["required"])
    assert "also_causes" in schemas["Error"]["properties"]


def test_an_ensembl_track_that_cannot_be_named_gets_every_error(service):
    document = json.loads(ensembl_examples()["mysql"].read_text())
    for key in ("track_type", "genome", "release"):
        del document[key]
    answer = requests.post(service, json=document, timeout=ANSWER_SECONDS).json()
    assert answer["validated"] is False
    assert sorted(e["path"] for e in answer["errors"]) == ["/genome", "/release", "/track_type"]
    [genome] = [e for e in answer["errors"] if e["path"] == "/genome"]
    assert genome["reason"] == "schema_error"
    assert "mint the track's IRI" in genome["also_causes"][0]["message"]


@pytest.fixture
def page(browser, service):  # noqa: F811  (browser: the fixture imported above)
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(60_000)
    page.goto(service)
    yield page
    context.close()
    assert errors == []


def test_the_page_shows_consequences_under_their_cause(page):
    document = next(generate_documents(2, seed=4, tracks_per_document=2))
    del document["experiments"]
    page.fill("#text", json.dumps(document, indent=2))
    page.click("#validate-button")
    page.wait_for_selector("#findings > li")
    assert "Invalid: 1 violation(s)" in page.text_content("#report .verdict")
    first = page.locator("#findings > li").first
    assert "'experiments' is required" in first.locator(".message").first.text_content()
    caused = first.locator("ul.causes > li")
    assert caused.count() == 2
    assert "names an experiment" in caused.first.text_content()
    assert caused.first.locator("a.pointer").text_content().startswith(
        "/tracks/0/experiment_ref")
