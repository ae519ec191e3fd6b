"""`/resolve/{curie}` on a live server: 303 to the one object declaring a global_id, 404 for
none, 300 with the candidates for several; tracks link to their resolver IRI."""

from __future__ import annotations

import copy

import pytest
import requests
from conftest import write_json
from rdflib import Graph, Literal, URIRef
from servers import cli, free_port, serve

from fairtracks_ld.mapping.namespaces import FT


@pytest.fixture(scope="module")
def server(tmp_path_factory, generated, examples):
    """A generated collection (unique fairtracks: ids) and the v1-current example twice, in
    collections "one" and "two", so its fairtracks:1 … fairtracks:4 are each declared twice."""
    folder = tmp_path_factory.mktemp("resolve")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    paths = [str(write_json(folder / "generated.json", generated[0]))]
    for name in ("one", "two"):
        document = copy.deepcopy(examples["v1-current"])
        document["collection_info"]["local_id"] = name
        paths.append(str(write_json(folder / f"{name}.json", document)))
    cli(folder / "store", base, "load", "--allow-invalid", *paths)
    with serve(folder / "store", port) as served:
        assert served == base
        yield base


def test_one_declaring_object_gives_303_to_it(server, generated):
    track = generated[0]["tracks"][5]
    collection = generated[0]["collection_info"]["local_id"]
    answer = requests.get(server + "resolve/" + track["global_id"], allow_redirects=False,
                          timeout=30)
    assert answer.status_code == 303
    iri = f"{server}collection/{collection}/track/{track['local_id']}"
    assert answer.headers["Location"] == iri
    followed = requests.get(server + "resolve/" + track["global_id"], timeout=30,
                            headers={"Accept": "text/turtle"})
    assert followed.status_code == 200 and followed.url == iri
    assert (URIRef(iri), URIRef(FT + "global_id"), Literal(track["global_id"])) in Graph().parse(
        data=followed.text, format="turtle")


def test_the_track_links_to_its_resolver(server, generated):
    track = generated[0]["tracks"][0]
    collection = generated[0]["collection_info"]["local_id"]
    iri = f"{server}collection/{collection}/track/{track['local_id']}"
    graph = Graph().parse(data=requests.get(iri, headers={"Accept": "text/turtle"},
                                            timeout=30).text, format="turtle")
    assert (URIRef(iri), URIRef(FT + "global_id_iri"),
            URIRef(server + "resolve/" + track["global_id"])) in graph


def test_no_declaring_object_gives_404(server):
    answer = requests.get(server + "resolve/fairtracks:no-such-track", allow_redirects=False,
                          timeout=30)
    assert answer.status_code == 404 and "fairtracks:no-such-track" in answer.text


def test_several_declaring_objects_give_300_with_the_candidates(server):
    tracks = {f"{server}collection/{name}/track/encode:ENCFF625ZYB" for name in ("one", "two")}
    as_json = requests.get(server + "resolve/fairtracks:1", allow_redirects=False, timeout=30,
                           headers={"Accept": "application/json"})
    assert as_json.status_code == 300 and as_json.headers["Content-Type"] == "application/json"
    body = as_json.json()
    assert body["global_id"] == "fairtracks:1"
    assert {c["iri"] for c in body["candidates"]} == tracks
    assert {c["type"] for c in body["candidates"]} == {"Track"}
    assert all(c["label"] for c in body["candidates"])
    as_html = requests.get(server + "resolve/fairtracks:1", allow_redirects=False, timeout=30,
                           headers={"Accept": "text/html"})
    assert as_html.status_code == 300 and as_html.headers["Content-Type"].startswith("text/html")
    assert all(f'href="{iri}"' in as_html.text for iri in tracks)
    turtle = requests.get(server + "resolve/fairtracks:1", allow_redirects=False, timeout=30,
                          headers={"Accept": "text/turtle"})
    assert turtle.status_code == 406


def test_other_global_ids_resolve_too_and_encoded_paths_decode(server):
    study = requests.get(server + "resolve/geo%3AGSE35583", allow_redirects=False, timeout=30,
                         headers={"Accept": "application/json"})
    assert study.status_code == 300  # the study and an experiment of both collections
    assert {c["type"] for c in study.json()["candidates"]} == {"Study", "Experiment"}
