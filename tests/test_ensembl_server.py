"""Ensembl tracks over the real linked-data server (gunicorn on loopback): their IRIs dereference
and the SPARQL endpoint answers one query over tracks of both models."""

from __future__ import annotations

import pytest
import requests
from rdflib import Graph, Literal, URIRef
from servers import cli, free_port, serve

from fairtracks_ld.ensembl_model import example_documents as ensembl_examples
from fairtracks_ld.mapping.namespaces import FT, OBO_PURL
from fairtracks_ld.standard import example_documents

TRACK = "collection/ensembl-ensembl-89/track/mus_musculus/GRCm38/GENCODE%20M24"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ensembl-server")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    store = folder / "store"
    cli(store, base, "load", str(example_documents()["master"]),
        *(str(p) for p in ensembl_examples().values()))
    with serve(store, port, workers=1) as served:
        yield served


def test_an_ensembl_track_dereferences(served):
    url = served + TRACK
    response = requests.get(url, headers={"Accept": "text/turtle"}, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(
        "text/turtle")
    graph = Graph().parse(data=response.text, format="turtle", publicID=url)
    track = URIRef(url)
    assert (track, URIRef(FT + "label_short"), Literal("GENCODE M24")) in graph
    assert (track, URIRef(FT + "species_id_iri"), URIRef(OBO_PURL + "NCBITaxon_10090")) in graph
    assert (track, URIRef(FT + "release_version"), Literal(89)) in graph
    page = requests.get(url, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "GENCODE M24" in page.text
    assert requests.get(served + TRACK + "x", timeout=30).status_code == 404


def test_the_ensembl_release_collection_dereferences(served):
    collection = served + TRACK.split("/track/")[0]
    page = requests.get(collection, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200
    assert "/track/mus_musculus/GRCm38/GENCODE%20M24/version/" in page.text  # its versions


def test_the_endpoint_lists_tracks_of_both_models(served):
    query = """PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>
        SELECT ?track ?assembly ?ensembl WHERE { ?track a ft:Track ; ft:assembly_name ?assembly
          BIND(EXISTS { ?track a ft:EnsemblTrack } AS ?ensembl) }"""
    response = requests.get(served + "sparql", params={"query": query},
                            headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert response.status_code == 200
    rows = response.json()["results"]["bindings"]
    assert {row["ensembl"]["value"] for row in rows} == {"true", "false"}
    assert {row["assembly"]["value"] for row in rows if row["ensembl"]["value"] == "true"} == \
        {"GRCm38", "GRCh37"}
