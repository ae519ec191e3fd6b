"""The server's front door (web/front.py) on a real server: a replayed answer is the answer the
application sent (same status, headers and body, `X-Cache: hit`), follows a new snapshot, and
paths that need percent-encoding still name their IRIs under granian (which decodes them), a
`%2F` inside a local id included."""

from __future__ import annotations

import copy
import random
from urllib.parse import quote

import pytest
import requests
from conftest import write_json
from servers import EXAMPLES, cli, free_port, serve

from fairtracks_ld.mapping.iris import encode_segment
from fairtracks_ld.web.front import raw_path

TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"
DESCRIBE = f"DESCRIBE <{TRACK}>"
ODD_COLLECTION, ODD_TRACK = "odd collection", "50% .. odd"
SLASH_TRACK = "hub/ENCFF1/peaks"  # a local id with '/', minted as hub%2FENCFF1%2Fpeaks


@pytest.fixture(scope="module")
def site(tmp_path_factory, examples):
    folder = tmp_path_factory.mktemp("front")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    odd = copy.deepcopy(examples["v1-current"])
    odd["collection_info"]["local_id"] = ODD_COLLECTION
    odd["tracks"][0]["local_id"] = ODD_TRACK
    odd["tracks"][1]["local_id"] = SLASH_TRACK
    cli(folder / "store", base, "load", "--allow-invalid", *EXAMPLES,
        str(write_json(folder / "odd.json", odd)))
    with serve(folder / "store", port, workers=1) as url:
        yield {"base": url, "store": folder / "store", "folder": folder, "examples": examples}


def _headers(response: requests.Response) -> dict[str, str]:
    """The answer's headers but the ones that differ between two sendings by design."""
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in
            ("date", "x-cache")}


def _twice(send) -> tuple[requests.Response, requests.Response]:
    """The first and a later sending of the same request, after the application's own cache
    and then the front door's copy are filled."""
    first = send()
    for _ in range(3):
        last = send()
    return first, last


@pytest.mark.parametrize("accept", ["text/turtle", "application/ld+json", "text/html"])
def test_a_replayed_dereference_is_the_applications_answer(site, accept):
    url = site["base"] + TRACK
    first, replayed = _twice(lambda: requests.get(url, headers={"Accept": accept}, timeout=30))
    assert first.status_code == replayed.status_code == 200
    assert first.headers["X-Cache"] == "miss" and replayed.headers["X-Cache"] == "hit"
    assert _headers(replayed) == _headers(first)
    assert replayed.content == first.content
    for name in ("ETag", "Vary", "Content-Location", "Access-Control-Allow-Origin"):
        assert replayed.headers[name], name


def test_a_replayed_describe_by_form_post_is_the_applications_answer(site):
    url = site["base"] + "sparql"
    for query in (f"DESCRIBE <{site['base']}{TRACK}>", "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"):
        first, replayed = _twice(lambda q=query: requests.post(
            url, data={"query": q}, headers={"Accept": "text/turtle, application/json"},
            timeout=30))
        assert first.status_code == replayed.status_code == 200, first.text
        assert replayed.headers["X-Cache"] == "hit"
        assert _headers(replayed) == _headers(first)
        assert replayed.content == first.content
    other = requests.post(url, data={"query": "SELECT (COUNT(*) AS ?n) { ?s a ?c }"},
                          headers={"Accept": "text/turtle, application/json"}, timeout=30)
    assert other.json() != replayed.json()  # the body is part of what names a replay


def test_conditional_and_head_requests_still_reach_the_application(site):
    url = site["base"] + TRACK
    etag = requests.get(url, headers={"Accept": "text/turtle"}, timeout=30).headers["ETag"]
    again = requests.get(url, headers={"Accept": "text/turtle", "If-None-Match": etag},
                         timeout=30)
    assert again.status_code == 304
    head = requests.head(url, headers={"Accept": "text/turtle"}, timeout=30)
    assert head.status_code == 200 and head.headers["ETag"] == etag and not head.content


def test_a_replay_follows_a_new_snapshot(site):
    url = site["base"] + TRACK
    before = requests.get(url, headers={"Accept": "text/turtle"}, timeout=30)
    changed = copy.deepcopy(site["examples"]["v1-current"])
    changed["tracks"][0]["label_short"] = "a label written after the first answer"
    changed["doc_info"].update(doc_version="2", doc_date="2021-01-01T00:00:00Z")
    cli(site["store"], site["base"], "load", "--allow-invalid",
        str(write_json(site["folder"] / "changed.json", changed)))
    after = requests.get(url, headers={"Accept": "text/turtle"}, timeout=30)
    assert after.status_code == 200 and after.headers["X-Cache"] == "miss"
    assert after.headers["ETag"] != before.headers["ETag"]
    assert b"a label written after the first answer" in after.content


def test_iris_that_needed_percent_encoding_dereference(site):
    found = requests.post(site["base"] + "sparql", timeout=30, data={
        "query": "SELECT ?t { ?t a <https://w3id.org/fairtracks-ld/vocab#Track> "
                 f"FILTER(CONTAINS(STR(?t), \"{quote(ODD_TRACK, safe=':')}\")) }}"},
        headers={"Accept": "application/sparql-results+json"})
    iri = found.json()["results"]["bindings"][0]["t"]["value"]
    assert quote(ODD_COLLECTION) in iri and "%25" in iri  # minted with escapes
    answer = requests.get(iri, headers={"Accept": "text/turtle"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Location"].endswith(iri.removeprefix(site["base"]) + ".ttl")
    needless = site["base"] + TRACK.replace("encode:", "encode%3A")  # an escape not needed
    assert requests.get(needless, headers={"Accept": "text/turtle"}, timeout=30).status_code == 200


@pytest.mark.parametrize("accept", ["text/turtle", "text/html"])
def test_a_local_id_with_a_slash_dereferences(site, accept):
    """granian hands the path over decoded (`hub/ENCFF1/peaks`): the IRI is found again."""
    iri = (site["base"] + "collection/" + quote(ODD_COLLECTION) + "/track/"
           + quote(SLASH_TRACK, safe=":"))
    assert "hub%2FENCFF1%2Fpeaks" in iri
    answer = requests.get(iri, headers={"Accept": accept}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert iri in answer.text and "ENCFF1" in answer.text
    turtle = requests.get(iri + ".ttl", timeout=30)  # with a format suffix too
    assert turtle.status_code == 200 and turtle.headers["Content-Type"].startswith("text/turtle")
    missing = requests.get(iri.replace("peaks", "nothing"), headers={"Accept": accept},
                           timeout=30)
    assert missing.status_code == 404


def test_raw_path_mints_as_the_mapping_does():
    assert raw_path("/collection/odd collection/track/50% .. odd") == \
        "/collection/odd%20collection/track/50%25%20..%20odd"
    assert raw_path("/collection/x/track/..") == "/collection/x/track/%2E%2E"
    assert raw_path("/graph/a:b/c") == "/graph/a:b/c"


def test_raw_path_of_a_plain_path_is_each_segment_encoded():
    rng = random.Random(5)
    pieces = ["a", "Z9", "_", "~", ":", "-", ".", "..", "/", "//", " ", "%", "é", "?", "#", "+"]
    for _ in range(5000):
        path = "/" + "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 10)))
        assert raw_path(path) == "/".join(encode_segment(s) if s else ""
                                          for s in path.split("/")), path
