"""The validation service (`/validate`) and its page, against a real `fairtracks-ld serve`: the
FAIRtracks validator's routes and answer shape, the W3C report by Accept, the limits (body,
members, decompressed bytes: bombs refused early), and the page in headless Chromium."""

from __future__ import annotations

import copy
import gzip
import io
import json
import struct
import tarfile
import zipfile
from collections.abc import Iterator
from typing import Any

import pyoxigraph as ox
import pytest
import requests
from conftest import annotate
from servers import ANSWER_SECONDS, cli, free_port, serve
from test_web_browser import browser  # noqa: F401  (the shared Chromium fixture)

from fairtracks_ld.standard import example_documents

MAX_BODY, MAX_MEMBERS, MAX_UNPACKED = 2_000_000, 50, 5_000_000
SH = "http://www.w3.org/ns/shacl#"
PREFIXES = {"sh": SH, "dct": "http://purl.org/dc/terms/"}


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[str]:
    """A server whose snapshot holds the master example (validation context, read-only), with
    small limits so that the limit tests stay small."""
    folder = tmp_path_factory.mktemp("validate")
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", str(example_documents()["master"]))
    env = {"FAIRTRACKS_LD_VALIDATE_MAX_BODY": str(MAX_BODY),
           "FAIRTRACKS_LD_VALIDATE_MAX_MEMBERS": str(MAX_MEMBERS),
           "FAIRTRACKS_LD_VALIDATE_MAX_UNPACKED": str(MAX_UNPACKED)}
    with serve(store, port, env=env, workers=1) as base:
        yield base + "validate"


@pytest.fixture
def invalid(examples) -> dict[str, Any]:
    """The v1-current example as published: its one slip is "encode: ENCFF207FGO"."""
    return copy.deepcopy(examples["v1-current"])


def test_one_invalid_document_answers_like_the_fairtracks_validator(service, invalid):
    response = requests.post(service, json=invalid, timeout=ANSWER_SECONDS)
    assert response.status_code == 200
    answer = response.json()
    assert answer["file"] == "(inline0)" and answer["validated"] is False
    assert answer["schema_id"] == invalid["@schema"]
    [error] = answer["errors"]
    assert error["reason"] == "schema_error"
    assert error["description"].startswith("Path: /tracks/0/raw_file_ids/0 . Message: ")
    assert error["path"] == "/tracks/0/raw_file_ids/0"
    assert error["severity"] == "Violation" and error["value"] == "encode: ENCFF207FGO"
    assert error["hint"] == "remove the spaces: 'encode:ENCFF207FGO'"
    assert all(w["severity"] == "Warning" for w in answer["warnings"])


def test_the_fixed_copy_is_valid(service, example):
    answer = requests.post(service, json=example, timeout=ANSWER_SECONDS).json()
    assert answer["validated"] is True and answer["errors"] == []


def test_an_array_answers_per_document(service, invalid, example):
    answer = requests.post(service + "/array", json=[invalid, example, {"x": 1}],
                           timeout=ANSWER_SECONDS).json()
    assert [a["file"] for a in answer] == ["(inline0)", "(inline1)", "(inline2)"]
    assert [a["validated"] for a in answer] == [False, True, False]
    assert answer[2]["errors"][0]["reason"] == "fatal"  # neither model: says which keys decide


def test_documents_of_one_request_are_checked_together(service, example):
    """Like the FAIRtracks validator across the files it is given: a local_id used in two
    documents of one request is a duplicate (dup_pk), as it would be once both are published."""
    first = annotate(example, collection="fresh")  # ids of its own: fresh-…
    second = copy.deepcopy(first)  # the same ids, in another collection
    second["collection_info"]["local_id"] = second["studies"][0]["collection_ref"] = "fresh2"
    second["doc_info"]["local_id"] = second["collection_info"]["doc_ref"] = "fresh2-0"
    for alone in (first, second):
        alone_answer = requests.post(service, json=alone, timeout=ANSWER_SECONDS).json()
        assert alone_answer["validated"] is True
    answer = requests.post(service + "/array", json=[first, second], timeout=ANSWER_SECONDS).json()
    assert {e["reason"] for a in answer for e in a["errors"]} == {"dup_pk"}


def test_the_v2_draft_is_answered_as_unsupported(service, examples):
    draft = copy.deepcopy(examples["v1-current"])
    draft["document"] = draft.pop("doc_info")
    [error] = requests.post(service, json=draft, timeout=ANSWER_SECONDS).json()["errors"]
    assert error["reason"] == "schema_unknown" and error["path"] == "/document"
    assert "v2 draft, which fairtracks-ld does not support" in error["message"]
    assert "whole FAIRtracks v1 document" in error["hint"]
    [error] = requests.post(service, json={"tracks": []}, timeout=ANSWER_SECONDS).json()["errors"]
    assert error["reason"] == "no_id"


def test_not_json_is_a_400_in_the_validators_shape(service):
    response = requests.post(service, data=b"{not json", timeout=30)
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "fatal"
    response = requests.post(service + "/array", json={"not": "an array"}, timeout=30)
    assert response.status_code == 400 and response.json()[0]["validated"] is False


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("pack", [_tar_gz, _zip])
def test_archives_answer_per_json_member(service, invalid, example, pack):
    body = pack({"./docs/bad.json": json.dumps(invalid).encode(),
                 "docs/good.json": json.dumps(example).encode(),
                 "docs/README.txt": b"not a document", "docs/.hidden.json": b"{"})
    answer = requests.post(service + "/archive", data=body, timeout=ANSWER_SECONDS).json()
    verdicts = {a["file"]: a["validated"] for a in answer}
    assert verdicts == {"docs/bad.json": False, "docs/good.json": True}


def test_multipart_takes_documents_and_archives(service, invalid, example):
    files = [("file", ("bad.json", json.dumps(invalid), "application/json")),
             ("file", ("more.zip", _zip({"good.json": json.dumps(example).encode()}),
                       "application/zip")),
             ("file", ("broken.json", b"[1,", "application/json"))]
    answer = requests.post(service + "/multipart", files=files, timeout=ANSWER_SECONDS).json()
    verdicts = {a["file"]: a["validated"] for a in answer}
    assert verdicts == {"bad.json": False, "more.zip::good.json": True, "broken.json": False}
    broken = next(a for a in answer if a["file"] == "broken.json")
    assert broken["errors"][0]["reason"] == "fatal"


def _tar_gz_declaring(size: int) -> bytes:
    """A tar.gz whose member bomb.json declares `size` bytes, its data cut short after 1 kB."""
    header = tarfile.TarInfo("bomb.json")
    header.size = size
    return gzip.compress(header.tobuf() + b" " * 1024)


def _zip_declaring(size: int) -> bytes:
    """A zip whose member bomb.json holds 1 kB of spaces but declares `size` bytes."""
    data = bytearray(_zip({"bomb.json": b" " * 1024}))
    struct.pack_into("<I", data, 22, size)  # the uncompressed size in the local header
    struct.pack_into("<I", data, data.rindex(b"PK\x01\x02") + 24, size)  # and in the directory
    return bytes(data)


@pytest.mark.parametrize(("pack", "declaring"), [(_tar_gz, _tar_gz_declaring),
                                                 (_zip, _zip_declaring)])
def test_a_bomb_is_refused_before_it_is_inflated(service, pack, declaring):
    """A bomb is refused by the size its member's header declares: an archive that declares a
    bomb but holds 1 kB is refused alike (had the server inflated the member before refusing,
    it would have found 1 kB of spaces, or data cut short, and answered per document)."""
    bomb = pack({"bomb.json": b" " * (20 * MAX_UNPACKED)})  # 100 MB of spaces, ~100 kB packed
    assert len(bomb) < MAX_BODY
    for body in (bomb, declaring(20 * MAX_UNPACKED)):
        response = requests.post(service + "/archive", data=body, timeout=60)
        assert response.status_code == 413, response.text
        assert "decompressed" in response.json()[0]["errors"][0]["description"]


def test_too_many_members_are_refused(service):
    body = _zip({f"d{i}.json": b"{}" for i in range(MAX_MEMBERS + 1)})
    response = requests.post(service + "/archive", data=body, timeout=60)
    assert response.status_code == 413 and "members" in response.text


def test_an_oversized_body_is_refused_with_413(service):
    response = requests.post(service, data=b" " * (MAX_BODY + 1),
                             headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413
    assert response.json()["errors"][0]["reason"] == "fatal"


def test_accept_turtle_gives_a_w3c_validation_report(service, invalid):
    response = requests.post(service, json=invalid, headers={"Accept": "text/turtle"},
                             timeout=ANSWER_SECONDS)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(
        "text/turtle")
    graph = ox.Store()
    graph.load(response.content, format=ox.RdfFormat.TURTLE)
    [conforms] = list(graph.query(f"SELECT ?c WHERE {{ ?r a <{SH}ValidationReport> ; "
                                  f"<{SH}conforms> ?c }}"))
    assert conforms["c"].value == "false"
    violations = list(graph.query(f"SELECT ?v WHERE {{ ?r <{SH}resultSeverity> <{SH}Violation> "
                                  f"; <{SH}value> ?v }}"))
    assert [row["v"].value for row in violations] == ["encode: ENCFF207FGO"]


def test_accept_jsonld_for_an_array_gives_one_report_per_document(service, invalid, example):
    response = requests.post(service + "/array", json=[invalid, example],
                             headers={"Accept": "application/ld+json"}, timeout=ANSWER_SECONDS)
    graph = ox.Store()
    graph.load(response.content, format=ox.RdfFormat.JSON_LD)
    sources = {r["s"].value for r in graph.query(
        "SELECT ?s WHERE { ?r a sh:ValidationReport ; dct:source ?s }", prefixes=PREFIXES)}
    violated = {r["s"].value for r in graph.query(
        "SELECT ?s WHERE { ?r dct:source ?s ; sh:result/sh:resultSeverity sh:Violation }",
        prefixes=PREFIXES)}
    assert sources == {"(inline0)", "(inline1)"} and violated == {"(inline0)"}


def test_the_openapi_description_and_its_browsable_ui(service):
    description = requests.get(service + "/openapi.json", timeout=30).json()
    assert set(description["paths"]) == {"/validate", "/validate/array", "/validate/archive",
                                         "/validate/multipart"}
    assert "Not supported: the newer draft" in description["info"]["description"]
    page = requests.get(service + "/api", timeout=30).text
    assert "swagger-ui/swagger-ui-bundle.js" in page
    base = service.removesuffix("validate")
    script = requests.get(base + "static/swagger-ui/swagger-ui-bundle.js", timeout=30)
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text


# ---- the page, in Chromium --------------------------------------------------------------------


@pytest.fixture
def page(browser, service):  # noqa: F811
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(60_000)
    page.goto(service)
    yield page
    context.close()
    assert errors == []


def test_pasted_document_findings_link_to_their_line(page, invalid):
    text = json.dumps(invalid, indent=2)
    page.fill("#text", text)
    page.click("#validate-button")
    page.wait_for_selector("#findings li")
    assert "Invalid: 1 violation(s)" in page.text_content("#report .verdict")
    first = page.locator("#findings li").first
    assert "remove the spaces" in first.text_content()
    link = first.locator("a.pointer")
    assert link.text_content().startswith("/tracks/0/raw_file_ids/0")
    link.click()
    current = page.locator("#document .line.current")
    assert '"encode: ENCFF207FGO"' in current.text_content()
    assert current.is_visible()


def test_uploaded_files_each_get_their_report(page, invalid, example, tmp_path):
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps(invalid), encoding="utf-8")
    good.write_text(json.dumps(example), encoding="utf-8")
    page.set_input_files("#files", [str(bad), str(good)])
    page.click("#validate-button")
    page.wait_for_selector("#documents button")
    labels = page.locator("#documents button").all_text_contents()
    assert labels == ["✗ bad.json", "✓ good.json"]
    page.locator("#documents button").nth(1).click()
    assert page.text_content("#report h2") == "good.json"
    assert page.text_content("#report .verdict").startswith("Valid")
