"""Federation between two live SPARQL servers on loopback, both ways.

This server (`fairtracks-ld serve --allow-service <oxigraph>/query`) joins its tracks with a small
external knowledge graph held by an `oxigraph serve` instance, keyed by the IRIs our data links
to (the assembly's identifiers.org IRI, the cell type's OBO IRI); and that Oxigraph instance joins
its facts with our tracks through `SERVICE <this server>/sparql`. A SERVICE outside the
allow-list is refused before the query runs. A federated engine, Comunica, joins the two
endpoints itself.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from servers import EXAMPLES, STARTUP_SECONDS, cli, free_port, oxigraph, serve

EX = "https://example.org/kg#"
KNOWLEDGE_GRAPH = f"""\
@prefix ex: <{EX}> .
<https://identifiers.org/refseq.gcf:GCF_000001405.26> ex:assembly_name "GRCh38" ;
    ex:ucsc_name "hg38" .
<http://purl.obolibrary.org/obo/CL_0000236> ex:marker_gene <https://identifiers.org/ncbigene:930> .
<https://identifiers.org/ncbigene:930> ex:symbol "CD19" .
<http://purl.obolibrary.org/obo/CL_0000084> ex:marker_gene <https://identifiers.org/ncbigene:920> .
<https://identifiers.org/ncbigene:920> ex:symbol "CD4" .
"""
PREFIXES = f"PREFIX ex: <{EX}>\nPREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"
B_CELL_TRACKS = 8  # the two example versions: 4 + 4 B cell tracks, all on GRCh38


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Both servers running, each allowed to reach the other."""
    folder = tmp_path_factory.mktemp("federation")
    (folder / "kg.ttl").write_text(KNOWLEDGE_GRAPH, encoding="utf-8")
    subprocess.run([oxigraph(), "load", "--location", str(folder / "kg"), "--file",
                    str(folder / "kg.ttl")], check=True, capture_output=True, timeout=120)
    oxi_port, our_port = free_port(), free_port()
    oxi = f"http://127.0.0.1:{oxi_port}/query"
    process = subprocess.Popen(
        [oxigraph(), "serve", "--location", str(folder / "kg"), "--bind",
         f"127.0.0.1:{oxi_port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(oxi, process)
        base = f"http://127.0.0.1:{our_port}/"
        store = folder / "store"
        cli(store, base, "load", "--allow-invalid", *EXAMPLES)
        # a federated engine sends many queries at once from one address: the server's
        # defaults queue them (docs/scheduling.md), no per-client cap needs raising
        with serve(store, our_port, "--allow-service", oxi) as served:
            yield {"ours": served + "sparql", "oxigraph": oxi}
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.time() + STARTUP_SECONDS
    while True:
        try:
            requests.get(url, params={"query": "ASK {}"}, timeout=5).raise_for_status()
            return
        except requests.RequestException:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise RuntimeError(process.stdout.read().decode()) from None
            time.sleep(0.2)


def select(endpoint: str, query: str) -> list[dict[str, str]]:
    response = requests.post(endpoint, data={"query": PREFIXES + query}, timeout=60,
                             headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()}
            for row in response.json()["results"]["bindings"]]


def test_this_server_joins_its_tracks_with_the_external_graph(endpoints):
    rows = select(endpoints["ours"], f"""
        SELECT ?track ?label ?assembly ?marker WHERE {{
          ?track a ft:Track ; ft:label_short ?label ; ft:assembly_id_iri ?genome ;
                 ft:cell_type_ancestor ?cell .
          SERVICE <{endpoints['oxigraph']}> {{
            ?genome ex:assembly_name ?assembly .
            ?cell ex:marker_gene/ex:symbol ?marker
          }}
        }}""")
    assert len(rows) == B_CELL_TRACKS
    assert {(r["assembly"], r["marker"]) for r in rows} == {("GRCh38", "CD19")}
    assert all("B cell" in r["label"] for r in rows)


def test_oxigraph_joins_its_facts_with_our_tracks(endpoints):
    ours = endpoints["ours"]
    rows = select(endpoints["oxigraph"], f"""
        SELECT ?symbol ?track ?label WHERE {{
          ?cell ex:marker_gene/ex:symbol ?symbol .
          SERVICE <{ours}> {{ ?track ft:cell_type_ancestor ?cell ; ft:label_short ?label }}
        }}""")
    assert len(rows) == B_CELL_TRACKS
    assert {r["symbol"] for r in rows} == {"CD19"}  # no CD4 T cell tracks here
    assert all(r["track"].startswith(ours.removesuffix("sparql")) for r in rows)


def test_service_outside_the_allow_list_is_refused(endpoints):
    port = endpoints["oxigraph"].split(":")[2].split("/")[0]
    for target in (f"http://127.0.0.1:{port}/update",  # same host, not the allowed endpoint
                   "http://127.0.0.1:9/sparql", "https://example.org/sparql"):
        response = requests.post(endpoints["ours"], timeout=30, data={
            "query": f"SELECT * WHERE {{ SERVICE <{target}> {{ ?s ?p ?o }} }}"})
        assert response.status_code == 403, target
        assert "not allowed" in response.text
    variable = requests.post(endpoints["ours"], timeout=30, data={
        "query": "SELECT * WHERE { VALUES ?e { <https://example.org/sparql> } "
                 "SERVICE ?e { ?s ?p ?o } }"})
    assert variable.status_code in (400, 403)


def comunica() -> str:
    """Comunica's command line, installed from tests/js/package-lock.json by `npm ci`."""
    found = Path(__file__).parent / "js" / "node_modules" / ".bin" / "comunica-sparql"
    if not found.exists():
        pytest.fail("Comunica is missing: run `npm ci` in tests/js (.ci/run does)",
                    pytrace=False)
    return str(found)


def test_comunica_joins_this_endpoint_with_oxigraph(endpoints):
    """A federated engine reads both endpoints as sources and joins them itself (no SERVICE)."""
    query = PREFIXES + """
        SELECT ?track ?label ?assembly ?marker WHERE {
          ?track a ft:Track ; ft:label_short ?label ; ft:assembly_id_iri ?genome ;
                 ft:cell_type_ancestor ?cell .
          ?genome ex:assembly_name ?assembly .
          ?cell ex:marker_gene/ex:symbol ?marker
        }"""
    run = subprocess.run(
        [comunica(), f"sparql@{endpoints['ours']}", f"sparql@{endpoints['oxigraph']}",
         "-t", "application/sparql-results+json", query],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [{k: v["value"] for k, v in row.items()}
            for row in json.loads(run.stdout)["results"]["bindings"]]
    assert len(rows) == B_CELL_TRACKS
    assert {(r["assembly"], r["marker"]) for r in rows} == {("GRCh38", "CD19")}
    assert all("B cell" in r["label"] for r in rows)
