"""Ensembl tracks over the real linked-data server (granian on loopback): their IRIs dereference,
the SPARQL endpoint answers one query over tracks of both models, and an Ensembl release is a
collection for people (its page, the search facet, exports, the TrackFind-compatible API)."""

from __future__ import annotations

import copy
import json
import re

import pytest
import requests
from conftest import write_json
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF
from servers import cli, free_port, html_page, html_section, serve
from test_web_browser import CHROMIUM, CHROMIUM_ARGS

from fairtracks_ld.ensembl_model import example_documents as ensembl_examples
from fairtracks_ld.mapping.namespaces import FT, OBO_PURL
from fairtracks_ld.standard import example_documents

TRACK = "collection/ensembl-ensembl-89/track/mus_musculus/GRCm38/GENCODE%20M24"
RELEASE = "collection/ensembl-ensembl-89"
YEAST = "collection/ensembl-fungi-56"  # 53 tracks: more than one page
YEAST_TRACKS = 53


def yeast_tracks(folder) -> list[str]:
    """Tracks of one Ensembl Fungi release (the draft's spelling, `Funghi`), one genome."""
    example = json.loads(ensembl_examples()["uri"].read_text(encoding="utf-8"))
    paths = []
    for number in range(1, YEAST_TRACKS + 1):
        track = copy.deepcopy(example)
        track["short_name"] = f"Yeast track {number:02d}"
        track["genome"] = {"genome_species": "saccharomyces_cerevisiae",
                           "genome_assembly": "R64-1-1", "genome_strain": False}
        track["release"] = {"release_division": "Funghi", "release_version": 56}
        track["location"]["location_uri"] = f"https://example.org/yeast/{number:02d}.bb"
        paths.append(str(write_json(folder / f"yeast-{number:02d}.json", track)))
    return paths


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ensembl-server")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    store = folder / "store"
    cli(store, base, "load", str(example_documents()["master"]),
        *(str(p) for p in ensembl_examples().values()), *yeast_tracks(folder))
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


def test_the_ensembl_release_is_a_typed_collection(served):
    collection = served + RELEASE
    response = requests.get(collection, headers={"Accept": "text/turtle"}, timeout=30)
    graph = Graph().parse(data=response.text, format="turtle", publicID=collection)
    release = URIRef(collection)
    assert (release, RDF.type, URIRef(FT + "Collection")) in graph
    assert (release, RDF.type, URIRef(FT + "EnsemblRelease")) in graph
    assert (release, URIRef(FT + "short_name"), Literal("Ensembl release 89")) in graph
    page = html_page(served, RELEASE)
    assert "/track/mus_musculus/GRCm38/GENCODE%20M24/version/" in page  # its versions, linked


def test_the_release_page_names_its_genomes_and_lists_its_tracks(served):
    page = html_page(served, RELEASE)
    title = "Ensembl release 89: Homo sapiens GRCh37, Mus musculus GRCm38"
    assert f"<h1>{title}</h1>" in page and f"<title>{title} · fairtracks-ld</title>" in page
    assert '<span class="kind" id="kind">collection</span>' in page
    summary = html_section(page, "summary")
    for fact in ("Ensembl division</th><td>ensembl", "Ensembl release</th><td>89",
                 "genome</th><td>Homo sapiens GRCh37 · 1 track",
                 "genome</th><td>Mus musculus GRCm38 · 1 track",
                 'href="https://www.ensembl.org/" rel="external">https://www.ensembl.org/'):
        assert fact in summary, fact
    tracks = html_section(page, "tracks")
    assert "Tracks (2)" in tracks
    assert f'<a href="/{TRACK}">GENCODE M24</a>' in tracks and ">Constrained elements</a>" in tracks
    assert "<td>Mus musculus</td><td>GRCm38</td>" in tracks
    assert 'id="provenance"' not in page  # no one document describes a release


def test_the_home_page_lists_releases_by_name(served):
    home = html_page(served, "")
    row = re.search(r'<tr><td><a href="[^"]*/' + YEAST + r'">ensembl-fungi-56</a>(.*?)</tr>', home,
                    re.S)
    assert row and 'class="muted collection-name">Ensembl Fungi release 56</span>' in row[1]
    assert f"<td>{YEAST_TRACKS} documents</td>" in row[1]


def test_a_release_page_pages_through_its_tracks(served):
    first = html_page(served, YEAST)
    assert "<h1>Ensembl Fungi release 56: Saccharomyces cerevisiae R64-1-1</h1>" in first
    assert f"Tracks ({YEAST_TRACKS})" in first
    assert html_section(first, "tracks").count("<tr>") == 50 and 'rel="next"' in first
    second = html_page(served, YEAST + "?page=2")
    rows = html_section(second, "tracks")
    assert rows.count("<tr>") == YEAST_TRACKS - 50 and 'rel="next"' not in second
    assert ">Yeast track 53</a>" in rows and ">Yeast track 01</a>" not in rows


def test_a_track_page_names_its_release(served):
    summary = html_section(html_page(served, TRACK), "summary")
    link = r'<th>collection</th><td><a href="[^"]*/' + RELEASE + '">Ensembl release 89</a>'
    assert re.search(link, summary), summary


def test_the_collection_facet_covers_ensembl_tracks_by_release_name(served):
    facets = requests.get(served + "search/facets.json", timeout=30).json()["facets"]
    releases = {v["key"][len(served):]: (v["label"], v["count"]) for v in facets["collection"]
                if "ensembl-" in v["key"]}
    assert releases == {RELEASE: ("Ensembl release 89", 2),
                        YEAST: ("Ensembl Fungi release 56", YEAST_TRACKS)}
    found = requests.get(served + "search/facets.json", params={"collection": served + RELEASE},
                         timeout=30).json()
    assert found["total"] == 2
    licences = {v["label"]: v["count"] for v in found["facets"]["licence"]}
    assert licences == {"licence not stated": 2}


def test_exports_of_a_release_selection(served):
    selection = {"collection": served + RELEASE}
    gsuite = requests.get(served + "search/export.gsuite", params=selection, timeout=30)
    assert gsuite.status_code == 200
    rows = [line.split("\t") for line in gsuite.text.splitlines() if not line.startswith("#")]
    assert {row[1] for row in rows} == {"Constrained elements", "GENCODE M24"}
    assert ensembl_uri() in {row[0] for row in rows}
    document = requests.get(served + "search/export.json", params=selection, timeout=30)
    assert document.status_code == 400
    assert "Ensembl tracks have no FAIRtracks document" in document.json()["error"]


def ensembl_uri() -> str:
    return json.loads(ensembl_examples()["uri"].read_text())["location"]["location_uri"]


def test_the_trackfind_api_serves_releases_as_hubs(served):
    api = served + "api/v1/"
    assert {"www.ensembl.org", "fungi.ensembl.org"} <= set(
        requests.get(api + "repositories", timeout=30).json())
    assert requests.get(api + "hubs/www.ensembl.org", timeout=30).json() == ["ensembl-ensembl-89"]
    hub = "www.ensembl.org/ensembl-ensembl-89"
    assert requests.get(api + f"categories/{hub}", timeout=30).json() == \
        ["tracks", "collection_info"]
    found = requests.get(api + f"search/{hub}", params={
        "query": "tracks->assembly_name = 'GRCm38'"}, timeout=30).json()
    assert [r["tracks"]["local_id"] for r in found] == ["mus_musculus/GRCm38/GENCODE M24"]
    assert found[0]["tracks"]["species_name"] == "Mus musculus"
    assert found[0]["collection_info"]["short_name"] == "Ensembl release 89"
    gsuite = requests.get(api + f"search/{hub}", params={"query": "tracks->release_version = '89'"},
                          headers={"Accept": "text/plain"}, timeout=30)
    assert gsuite.status_code == 200 and "##genome: multiple" in gsuite.text
    assert ensembl_uri() in gsuite.text and "\tGENCODE M24\t" in gsuite.text
    values = requests.get(api + "values/fungi.ensembl.org/ensembl-fungi-56/tracks",
                          params={"path": "assembly_name"}, timeout=30).json()
    assert values == ["R64-1-1"]


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
        {"GRCm38", "GRCh37", "R64-1-1"}


# ---- in a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright (as test_web_browser: never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_a_researcher_goes_from_the_facet_to_the_release_and_its_tracks(browser, served):
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(20_000)
    try:
        page.goto(served + "search")
        page.locator("a.value", has_text="Ensembl Fungi release 56").first.click()
        page.wait_for_url("**/search?collection=*")
        assert page.locator("#total strong").inner_text() == str(YEAST_TRACKS)
        page.goto(served + YEAST)
        assert page.locator("h1").inner_text() == \
            "Ensembl Fungi release 56: Saccharomyces cerevisiae R64-1-1"
        assert page.locator("#tracks tr").count() == 50
        page.locator("#track-pages a[rel='next']").click()
        page.wait_for_url("**?page=2")
        assert page.locator("#tracks tr").count() == YEAST_TRACKS - 50
        page.locator("#tracks a", has_text="Yeast track 53").click()
        page.wait_for_url("**/Yeast%20track%2053")
        assert page.locator("h1").inner_text() == "Yeast track 53"
        page.locator("#summary tr.related a", has_text="Ensembl Fungi release 56").click()
        page.wait_for_url(served + YEAST)
        assert "Saccharomyces cerevisiae R64-1-1 · 53 tracks" in \
            page.locator("#summary").inner_text()
        assert errors == []
    finally:
        context.close()


def test_links_in_read_as_the_linking_tracks_labels(served):
    linked_from = html_section(html_page(served, RELEASE), "linked-from")
    assert f'<a href="{served}{TRACK}">GENCODE M24</a>' in linked_from
    assert "GENCODE%20M24</a>" not in linked_from
