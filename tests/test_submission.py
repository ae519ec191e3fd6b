"""Data providers against a live server: submission with scoped tokens, the queue behind a busy
store, withdrawal with tombstones, and per-collection licences in VoID and exports.

The tests of this module share one server and run in order: a collection is submitted, then
replaced while the store is busy, then withdrawn.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import time

import pytest
import requests
from conftest import write_json
from servers import cli, free_port, serve

from fairtracks_ld.store import TrackStore

ALICE, BOB, ADMIN = "alice-token", "bob-token", "admin-token"
COLLECTION = "subtest"
TRACK_ID = "encode:ENCFF625ZYB"
JSON = {"Accept": "application/json"}


def _submitters(alice: str = ALICE) -> str:
    digest = hashlib.sha256(alice.encode()).hexdigest()
    return (f'[submitters.alice]\ntoken_sha256 = "{digest}"\ncollections = ["{COLLECTION}"]\n\n'
            f'[submitters.bob]\ntoken = "{BOB}"\ncollections = ["elsewhere"]\n')


@pytest.fixture(scope="module")
def server(tmp_path_factory, generated):
    folder = tmp_path_factory.mktemp("submission")
    port = free_port()
    store = folder / "store"
    other = generated[0]  # another provider's collection, already published
    cli(store, f"http://127.0.0.1:{port}/", "load", "--allow-invalid",
        str(write_json(folder / "other.json", other)))
    other_id = other["collection_info"]["local_id"]
    submitters = folder / "submitters.toml"
    submitters.write_text(_submitters(), encoding="utf-8")
    collections = folder / "collections.toml"
    collections.write_text(f'[collections."{other_id}"]\nlicence = "CC-BY-NC-4.0"\n'
                           'conditions = "Non-commercial research only"\n', encoding="utf-8")
    env = {"FAIRTRACKS_LD_SUBMITTERS_FILE": str(submitters), "FAIRTRACKS_LD_ADMIN_TOKEN": ADMIN,
           "FAIRTRACKS_LD_COLLECTIONS_FILE": str(collections),
           "FAIRTRACKS_LD_SUBMISSION_RETRY": "0.5"}
    with serve(store, port, env=env) as base:
        yield {"base": base, "store": store, "submitters": submitters,
               "iri": f"{base}collection/{COLLECTION}", "other": other_id}


@pytest.fixture
def document(example):
    document = copy.deepcopy(example)
    document["collection_info"]["local_id"] = COLLECTION
    for study in document["studies"]:
        study["collection_ref"] = COLLECTION
    return document


def _submit(server, document, token=ALICE, path=f"collections/{COLLECTION}/document",
            method="PUT", **params) -> requests.Response:
    return requests.request(method, server["base"] + path, json=document, params=params,
                            headers={"Authorization": f"Bearer {token}", **JSON}, timeout=300)


def _select(server, query: str) -> list[dict]:
    answer = requests.get(server["base"] + "sparql", params={"query": query}, timeout=60,
                          headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]["bindings"] if "results" in answer.json() else [answer.json()]


def _ask(server, query: str) -> bool:
    return _select(server, query)[0]["boolean"]


def _versions(server) -> int:
    rows = _select(server, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?c { ?g a ft:DocumentVersion } }")
    return int(rows[0]["n"]["value"])


def test_without_a_valid_token_nothing_is_submitted(server, document):
    missing = requests.put(server["base"] + f"collections/{COLLECTION}/document", json=document,
                           timeout=60)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = _submit(server, document, token="not-a-token")
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]


def test_a_collection_outside_the_tokens_scope_is_403(server, document):
    answer = _submit(server, document, token=BOB)
    assert answer.status_code == 403
    assert "subtest" in answer.json()["message"]
    other = _submit(server, document, path="submissions", method="POST",
                    token=BOB)  # the collection is read from the document
    assert other.status_code == 403


def test_an_invalid_spdx_id_is_refused(server, document):
    answer = _submit(server, document, licence="CC-BY-5.0-NOT")
    assert answer.status_code == 422
    assert "SPDX" in answer.json()["message"]


def test_a_valid_document_is_published_at_once_with_its_submitter_and_licence(server, document):
    answer = _submit(server, document, licence="CC-BY-4.0", conditions="Cite the consortium",
                     duo="DUO:0000042")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "published" and body["current"] is True
    assert body["submitted_by"] == "alice"
    track = requests.get(f"{server['iri']}/track/{TRACK_ID}", headers={"Accept": "text/turtle"},
                         timeout=60)
    assert track.status_code == 200  # visible on the very next request
    rows = _select(server, f"""SELECT ?who ?at WHERE {{ GRAPH ?c {{
        <{body['version']}> dcterms:creator ?who ; prov:generatedAtTime ?at ;
          prov:wasAttributedTo ?agent }} }}""")
    assert rows[0]["who"]["value"] == "alice"
    void = requests.get(server["base"] + ".well-known/void", headers={"Accept": "text/turtle"},
                        timeout=60).text
    assert "https://spdx.org/licenses/CC-BY-4.0" in void
    assert "https://spdx.org/licenses/CC-BY-NC-4.0" in void  # from the collections file
    assert "Non-commercial research only" in void
    assert "creativecommons.org/licenses/by/4.0" not in void  # no blanket claim any more


def test_an_invalid_document_gets_its_report_and_changes_nothing(server, document):
    before = _versions(server)
    del document["tracks"][0]["file_url"]
    document["doc_info"]["local_id"] = "broken"
    answer = _submit(server, document)
    assert answer.status_code == 422, answer.text
    report = answer.json()["report"]
    assert report["valid"] is False and report["violations"] >= 1
    assert any("file_url" in (r["pointer"] or "") + r["message"] for r in report["results"])
    assert _versions(server) == before
    assert requests.get(f"{server['iri']}/document/broken", timeout=60).status_code == 404


def test_exports_carry_the_licence(server):
    gsuite = requests.get(server["base"] + "search/export.gsuite", timeout=120)
    assert gsuite.status_code == 200, gsuite.text
    assert '<https://spdx.org/licenses/CC-BY-4.0>; rel="license"' in gsuite.headers["Link"]
    header = next(line for line in gsuite.text.splitlines() if line.startswith("###"))
    assert header.split("\t")[-1] == "licence"
    assert any(line.endswith("CC-BY-4.0; Cite the consortium; "
                             "http://purl.obolibrary.org/obo/DUO_0000042")
               for line in gsuite.text.splitlines())
    own = requests.get(server["base"] + "search/export.json",
                       params={"collection": server["iri"]}, timeout=120)
    assert own.status_code == 200, own.text
    assert own.headers["Link"] == '<https://spdx.org/licenses/CC-BY-4.0>; rel="license"'
    assert own.json()["collection_info"]["local_id"] == COLLECTION  # still a FAIRtracks document
    other = requests.get(server["base"] + "search/export.json", timeout=120,
                         params={"collection": f"{server['base']}collection/{server['other']}"})
    assert other.headers["Licence"].startswith("CC-BY-NC-4.0")


def test_pages_and_signposts_carry_the_collections_licence(server):
    page = requests.get(f"{server['iri']}/track/{TRACK_ID}", headers={"Accept": "text/html"},
                        timeout=60)
    assert page.status_code == 200, page.text
    assert '<https://spdx.org/licenses/CC-BY-4.0>; rel="license"' in page.headers["Link"]
    assert 'href="https://spdx.org/licenses/CC-BY-4.0" rel="license"' in page.text
    assert '"license": "https://spdx.org/licenses/CC-BY-4.0"' in page.text  # schema.org


def test_a_busy_store_queues_the_submission_and_a_worker_completes_it(server, document):
    document["tracks"][0]["label_short"] = "replaced while busy"
    document["doc_info"]["doc_version"] = "2"
    holder = TrackStore(server["store"])  # this process holds the writer's lock
    try:
        answer = _submit(server, document)
        assert answer.status_code == 202, answer.text
        status_url = answer.headers["Location"]
        assert requests.get(status_url, timeout=60).json()["status"] == "queued"
    finally:
        del holder
        gc.collect()
    deadline = time.time() + 240
    while (job := requests.get(status_url, timeout=60).json())["status"] == "queued":
        assert time.time() < deadline, job
        time.sleep(0.5)
    assert job["status"] == "published", job
    assert job["http_status"] == 201
    assert _ask(server, f'ASK {{ <{server["iri"]}/track/{TRACK_ID}> ft:label_short '
                        '"replaced while busy" }')


def test_withdrawal_needs_scope_and_a_reason(server):
    url = server["base"] + f"collections/{COLLECTION}/documents/0"
    assert requests.delete(url, params={"reason": "x"}, timeout=60).status_code == 401
    assert requests.delete(url, params={"reason": "x"}, timeout=60,
                           headers={"Authorization": f"Bearer {BOB}"}).status_code == 403
    assert requests.delete(url, timeout=60,
                           headers={"Authorization": f"Bearer {ALICE}"}).status_code == 400


def test_a_withdrawn_document_is_gone_but_its_history_stays(server):
    track = f"{server['iri']}/track/{TRACK_ID}"
    versions = [row["g"]["value"] for row in _select(server, f"""SELECT ?g WHERE {{ GRAPH ?c {{
        ?g a ft:DocumentVersion ; ft:collection <{server['iri']}> }} }}""")]
    answer = requests.delete(server["base"] + f"collections/{COLLECTION}/documents/0",
                             json={"reason": "consent withdrawn by a donor"}, timeout=60,
                             headers={"Authorization": f"Bearer {ALICE}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["by"] == "alice"
    page = requests.get(track, headers={"Accept": "text/html"}, timeout=60)
    assert page.status_code == 410
    assert "consent withdrawn by a donor" in page.text and "replaced while busy" in page.text
    turtle = requests.get(track, headers={"Accept": "text/turtle"}, timeout=60)
    assert turtle.status_code == 410 and "withdrawal_reason" in turtle.text
    text = requests.get(track + ".ttl", headers={"Accept": "text/plain"}, timeout=60)
    assert text.status_code == 410 and text.headers["Content-Type"].startswith("text/turtle")
    plain = requests.get(track, headers={"Accept": "text/plain"}, timeout=60)
    assert plain.status_code == 410 and "withdrawn" in plain.text and "alice" in plain.text
    document = requests.get(f"{server['iri']}/document/0", timeout=60)
    assert document.status_code == 410
    # gone from the current view, the dumps and the search …
    assert not _ask(server, f"ASK {{ <{track}> ?p ?o }}")
    dump = requests.get(server["base"] + f"dumps/collection/{COLLECTION}.nq.gz", timeout=60)
    assert dump.status_code == 404
    everything = requests.get(server["base"] + "dumps/all.nq.gz", timeout=120).content
    import gzip

    quads = gzip.decompress(everything).decode()
    assert f"<{track}> " not in quads
    assert f"collection/{server['other']}/track/" in quads  # the other collection stays
    facets = requests.get(server["base"] + "search/facets.json", params={"size": "500"},
                          timeout=120).json()
    assert facets["tracks"] and not any(t.startswith(server["iri"] + "/") for t in facets["tracks"])
    void = requests.get(server["base"] + ".well-known/void", timeout=60).text
    assert f"<{server['iri']}>" not in void
    # … but its history stays in the store
    for version in versions:
        assert _ask(server, f"ASK {{ GRAPH <{version}> {{ <{track}> ?p ?o }} }}")
    again = requests.delete(server["base"] + f"collections/{COLLECTION}/documents/0",
                            params={"reason": "twice"}, timeout=60,
                            headers={"Authorization": f"Bearer {ALICE}"})
    assert again.status_code == 410


def test_tokens_rotate_without_a_restart(server):
    url = server["base"] + f"collections/{COLLECTION}/documents/nothing-here"
    server["submitters"].write_text(_submitters("rotated-token"), encoding="utf-8")
    old = requests.delete(url, params={"reason": "x"}, timeout=60,
                          headers={"Authorization": f"Bearer {ALICE}"})
    assert old.status_code == 401
    new = requests.delete(url, params={"reason": "x"}, timeout=60,
                          headers={"Authorization": "Bearer rotated-token"})
    assert new.status_code == 404  # authenticated and in scope: no such document


def test_the_withdraw_command_withdraws_a_whole_collection(server, generated):
    collection = f"{server['base']}collection/{server['other']}"
    track = generated[0]["tracks"][0]["local_id"]
    done = cli(server["store"], server["base"], "withdraw", server["other"],
               "--reason", "superseded by a new release", "--by", "curator")
    assert "withdrew" in done.stdout
    gone = requests.get(collection, headers={"Accept": "text/plain"}, timeout=60)
    assert gone.status_code == 410
    assert "superseded by a new release" in gone.text and "curator" in gone.text
    assert requests.get(f"{collection}/track/{track}", timeout=60).status_code == 410
