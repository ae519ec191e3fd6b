"""The "Licence" search facet on a real served store: collections under an open licence (SPDX
OSI-approved or FSF-libre, CC0, CC BY), under another one, or with none stated (its own value),
from the collections file and from a licence stated at submission; the filter agrees with the
SPARQL the search shows, on the page and in the JSON API."""

from __future__ import annotations

import copy

import pytest
import requests
from conftest import BASE, write_json
from servers import cli, free_port, serve

from fairtracks_ld.licences import COLLECTIONS_FILE_ENV

TOKEN = "licence-test-token"


def renamed(document: dict, collection: str) -> dict:
    doc = copy.deepcopy(document)
    doc["collection_info"]["local_id"] = collection
    doc["doc_info"]["local_id"] = doc["collection_info"]["doc_ref"] = f"{collection}-doc"
    for study in doc["studies"]:
        study["collection_ref"] = collection
    return doc


@pytest.fixture(scope="module")
def site(generated, tmp_path_factory):
    """Collections `free` (CC-BY-4.0 in the collections file), `restricted` (CC-BY-NC-4.0),
    `unsaid` (nothing stated) and `submitted` (MIT, stated at submission), served."""
    folder = tmp_path_factory.mktemp("licence-search")
    docs = {name: renamed(generated[i], name)
            for i, name in enumerate(("free", "restricted", "unsaid", "submitted"))}
    store = folder / "store"
    cli(store, BASE, "load", *(str(write_json(folder / f"{n}.json", d))
                               for n, d in docs.items() if n != "submitted"))
    (folder / "collections.toml").write_text(
        '[collections.free]\nlicence = "CC-BY-4.0"\n'
        '[collections.restricted]\nlicence = "CC-BY-NC-4.0"\n', encoding="utf-8")
    (folder / "submitters.toml").write_text(
        f'[submitters.ada]\ntoken = "{TOKEN}"\ncollections = ["submitted"]\n', encoding="utf-8")
    env = {COLLECTIONS_FILE_ENV: str(folder / "collections.toml"),
           "FAIRTRACKS_LD_SUBMITTERS_FILE": str(folder / "submitters.toml")}
    port = free_port()
    with serve(store, port, env=env, workers=1) as base:
        answer = requests.put(f"{base}collections/submitted/document", params={"licence": "MIT"},
                              json=docs["submitted"], timeout=300,
                              headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 201, answer.text
        yield {"base": base, "tracks": {n: len(d["tracks"]) for n, d in docs.items()}}


def facets(site, **params) -> dict:
    response = requests.get(site["base"] + "search/facets.json",
                            params={"size": "500", **params}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_collection_counts_under_its_licence(site):
    counts = {v["key"]: v["count"] for v in facets(site)["facets"]["licence"]}
    tracks = site["tracks"]
    assert counts == {"open licence": tracks["free"] + tracks["submitted"],
                      "other licence": tracks["restricted"],
                      "licence not stated": tracks["unsaid"]}


def test_the_open_licence_filter_agrees_with_its_sparql(site):
    body = facets(site, licence="open licence")
    assert body["total"] == site["tracks"]["free"] + site["tracks"]["submitted"]
    collections = {t.split("/collection/")[1].split("/")[0] for t in body["tracks"]}
    assert collections == {"free", "submitted"}
    response = requests.get(site["base"] + "sparql", params={"query": body["sparql"]},
                            timeout=120)
    assert response.status_code == 200, response.text
    found = [b["track"]["value"] for b in response.json()["results"]["bindings"]]
    assert found == body["tracks"]
    # the filter narrows the other facets; its own values stay offered
    assert {v["key"] for v in body["facets"]["collection"]} == {
        f"{BASE}collection/free", f"{BASE}collection/submitted"}
    assert len(body["facets"]["licence"]) == 3


def test_licence_not_stated_is_a_value_of_its_own(site):
    body = facets(site, licence="licence not stated")
    assert body["total"] == site["tracks"]["unsaid"]
    assert {t.split("/collection/")[1].split("/")[0] for t in body["tracks"]} == {"unsaid"}


def test_the_page_offers_the_facet_and_refuses_unknown_values(site):
    page = requests.get(site["base"] + "search", params={"licence": "open licence"}, timeout=120)
    assert page.status_code == 200
    assert 'id="facet-licence"' in page.text and "licence not stated" in page.text
    assert "Licence: open licence" in page.text  # the chosen filter, removable
    bad = requests.get(site["base"] + "search/facets.json", params={"licence": "free beer"},
                       timeout=60)
    assert bad.status_code == 400 and "licence" in bad.json()["error"]
