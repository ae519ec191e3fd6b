"""The server's pages in a real browser: Debian's Chromium driven by Playwright, against a real
`fairtracks-ld serve` process on loopback. Nothing is skipped: without Chromium or Playwright
these tests fail and say what to install (`.ci/run` installs both)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from conftest import write_json
from servers import EXAMPLES, cli, free_port, hostile_document, serve
from test_server import TRACK

from fairtracks_ld.queries import list_queries
from fairtracks_ld.web.query_page import examples

CHROMIUM = os.environ.get("FAIRTRACKS_LD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MINI_CL = """\
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix obo: <http://purl.obolibrary.org/obo/> .
<http://example.org/test/mini-cl.owl> a owl:Ontology .
obo:CL_0000542 a owl:Class ; rdfs:label "lymphocyte" .
obo:CL_0000945 a owl:Class ; rdfs:label "lymphocyte of B lineage" ;
  rdfs:subClassOf obo:CL_0000542 .
obo:CL_0000236 a owl:Class ; rdfs:label "B cell" ; rdfs:subClassOf obo:CL_0000945 .
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, examples) -> Iterator[str]:
    """The examples, a document with a hostile label and a tiny cell ontology, served."""
    folder = tmp_path_factory.mktemp("browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    store = folder / "store"
    cli(store, base, "load", "--allow-invalid", *EXAMPLES,
        str(write_json(folder / "hostile.json", hostile_document(examples))))
    (folder / "mini-cl.ttl").write_text(MINI_CL, encoding="utf-8")
    cli(store, base, "ontologies", "add", str(folder / "mini-cl.ttl"))
    with serve(store, port) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright; never a downloaded browser."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is missing ({CHROMIUM}): install Debian's package with "
                    "`apt-get install -y chromium` (.ci/run does this); these tests never "
                    "download a browser", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package playwright is missing: `make install` installs it",
                    pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, site):
    """A fresh page that records every request, browser error and dialog (alert) it sees."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.seen = {"requests": [], "errors": [], "dialogs": []}
    page.on("request", lambda r: page.seen["requests"].append(r.url))
    page.on("pageerror", lambda e: page.seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (page.seen["dialogs"].append(d.message), d.dismiss()))
    page.set_default_timeout(20_000)
    yield page
    context.close()


def _only_this_server(page, site: str) -> None:
    origin = urlsplit(site).netloc
    outside = [u for u in page.seen["requests"]
               if not u.startswith("data:") and urlsplit(u).netloc != origin]
    assert outside == [], f"the page reached outside this server: {outside}"
    assert page.seen["errors"] == []


def test_home_page_lists_collections_and_links_onwards(page, site):
    page.goto(site)
    assert page.title() == "fairtracks-ld"
    assert page.locator("#collections a", has_text="encode_example").count() == 1
    assert page.locator("a#query-link").get_attribute("href") == "/query"
    page.locator("#collections a", has_text="hostile").first.click()
    page.wait_for_url(site + "collection/hostile")
    assert page.locator("h1").inner_text()
    _only_this_server(page, site)


def test_track_page_shows_labels_and_its_links_lead_somewhere(page, site):
    page.goto(site + TRACK)
    assert page.locator("h1").inner_text() == "H3K4me3 B cell peaks r1"
    properties = page.locator("#properties")
    # an ontology class shows its label from the loaded ontology, the CURIE beside it
    assert properties.locator("a[href='http://purl.obolibrary.org/obo/CL_0000236']").first \
        .inner_text() == "B cell"
    assert "0ab98dbd2a2193ab3e09df030ea4f934" in page.locator("#checksum + table").inner_text()
    assert page.locator("a[type='text/turtle']").get_attribute("href") == site + TRACK + ".ttl"
    # follow the link to the experiment, and from its incoming links back to the track
    properties.locator("a[href*='/experiment/']").first.click()
    page.wait_for_url("**/experiment/encode:ENCSR000DQP")
    assert page.locator("h1").inner_text()
    page.locator("#incoming a[href$='encode:ENCFF625ZYB']").first.click()
    page.wait_for_url(site + TRACK)
    assert page.locator("h1").inner_text() == "H3K4me3 B cell peaks r1"
    _only_this_server(page, site)


def test_literals_are_escaped_not_run(page, site):
    page.goto(site + "collection/hostile/track/encode:ENCFF625ZYB")
    cell = page.locator("#properties tr", has_text="ft:label_long").locator("td")
    assert cell.inner_text() == '<script>alert("x")</script>'
    assert page.locator("main script").count() == 0
    page.wait_for_timeout(300)
    assert page.seen["dialogs"] == []
    _only_this_server(page, site)


def test_every_example_is_valid_sparql_with_its_parameters_bound():
    import pyoxigraph as ox

    empty = ox.Store()
    assert sorted(e.name for e in examples()) == sorted(q.name for q in list_queries())
    for example in examples():
        result = empty.query(example.query)  # a syntax error raises here
        if isinstance(result, ox.QuerySolutions):
            assert list(result) == []
    by_name = {e.name: e.query for e in examples()}
    assert "VALUES ?term { <http://purl.obolibrary.org/obo/CL_0000542> }" in by_name[
        "tracks-by-cell-type"]
    # a facet is a path, not a value: written in where it is a predicate, bound where projected
    facet = "https://w3id.org/fairtracks-ld/vocab#cell_type_ancestor"
    assert f"?track <{facet}> ?class" in by_name["facet-counts"]
    assert f"VALUES ?facet {{ <{facet}> }}" in by_name["facet-counts"]


def test_query_page_runs_an_example_offline(page, site):
    names = [q.name for q in list_queries()]
    page.goto(site)
    page.locator("a#query-link").click()
    page.wait_for_selector(".yasqe .CodeMirror")
    tabs = [t.split("\n")[0].strip() for t in page.locator(".tabsList .tab").all_inner_texts()]
    assert sorted(tabs) == sorted(names)
    assert page.locator(".tabsList .tab.active").inner_text().startswith("tracks-per-technique")
    page.locator(".tab-pane.active .yasqe_queryButton, .yasqe_queryButton").first.click()
    rows = page.locator(".yasr table.dataTable tbody tr")
    rows.first.wait_for()
    assert "OBI_0002017" in rows.first.inner_text()
    _only_this_server(page, site)


def test_query_page_picker_opens_a_parameterised_example(page, site):
    page.goto(site + "query")
    page.locator("#examples summary").click()
    page.locator(".example-link", has_text="tracks-by-cell-type").click()
    active = page.locator(".tabsList .tab.active")
    assert active.inner_text().startswith("tracks-by-cell-type")
    panel = page.locator(".tabPanel.active")
    editor = panel.locator(".CodeMirror")
    assert "CL_0000542" in editor.inner_text()  # the header's example, bound with VALUES
    panel.locator(".yasqe_queryButton").click()
    rows = panel.locator(".yasr table.dataTable tbody tr")
    rows.first.wait_for()
    # B cell tracks are found from "lymphocyte" through the ontology's subclass chain
    assert rows.count() >= 8
    assert "B cell" in panel.locator(".yasr").inner_text()
    _only_this_server(page, site)


def test_a_query_link_opened_in_a_browser_lands_in_the_editor(page, site):
    """`/sparql?query=…` followed by a person: the editor, the query in its own active tab."""
    query = "SELECT ?label WHERE { ?t <https://w3id.org/fairtracks-ld/vocab#label_short> ?label }"
    page.goto(site + "sparql?" + urlencode({"query": query}))
    page.wait_for_url(lambda url: urlsplit(url).path == "/query")
    panel = page.locator(".tabPanel.active")
    panel.locator(".CodeMirror").wait_for()
    assert "label_short" in panel.locator(".CodeMirror").inner_text()
    panel.locator(".yasqe_queryButton").click()
    panel.locator(".yasr table.dataTable tbody tr").first.wait_for()
    page.goto(site + "sparql")  # the endpoint's own address (linked from the page) as well
    assert urlsplit(page.url).path == "/query"
    _only_this_server(page, site)
