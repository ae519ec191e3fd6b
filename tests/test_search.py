"""Track search and the TrackFind-compatible API on a real server over a real store (the bundle
plus a generated corpus): ancestor-aware filters agree with the SPARQL the page shows, counts
narrow, exports follow GSuite and FAIRtracks, bad input gets JSON 400s, loads become visible;
and the page in Debian's Chromium: term lookup by synonym, tree browsing, narrowing, paging,
shareable URLs, links to track pages, escaping."""

from __future__ import annotations

import copy
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import B_CELL, HISTONE_CHIP, annotate, copy_store, term, track_iris, write_json
from servers import cli, free_port, serve
from test_web_browser import browser  # noqa: F401  (a module fixture)

from fairtracks_ld.ensembl_model import example_documents as ensembl_examples
from fairtracks_ld.mapping.annotations import track_path
from fairtracks_ld.mapping.iris import local_id_of
from fairtracks_ld.ontology.iris import EFO_IRI_PREFIX, EFO_PURL_PREFIX

BASE = "http://localhost:8000/"  # the stores' base IRI (conftest's BASE)
LYMPHOCYTE = "http://purl.obolibrary.org/obo/CL_0000542"
T_CELL = "http://purl.obolibrary.org/obo/CL_0000084"
ENSEMBL = BASE + "collection/ensembl-ensembl-89/track/"
MOUSE_TRACK = ENSEMBL + "mus_musculus/GRCm38/GENCODE%20M24"
HUMAN_TRACK = ENSEMBL + "homo_sapiens/GRCh37/Constrained%20elements"
SAMPLE_TYPES = ("cell_type", "abnormal_cell_type", "cell_line", "organism_part")
HOSTILE = '<script>alert("x")</script>'


def renamed(document: dict, collection: str) -> dict:
    """A copy of a document as another collection (its own document id too)."""
    doc = copy.deepcopy(document)
    doc["collection_info"]["local_id"] = collection
    doc["doc_info"]["local_id"] = doc["collection_info"]["doc_ref"] = f"{collection}-doc"
    for study in doc["studies"]:
        study["collection_ref"] = collection
    return doc


@pytest.fixture(scope="module")
def chosen(generated) -> dict:
    """Collection `chosen`: sample 0 is a B cell, experiment 0 a histone ChIP-seq, and one track
    has a label that is HTML."""
    doc = renamed(annotate(generated[0], samples={0: {"cell_type": term(B_CELL, "B cell")}},
                           techniques={0: term(HISTONE_CHIP, "histone ChIP-Seq")}), "chosen")
    doc["tracks"][-1]["label_short"] = HOSTILE
    return doc


@pytest.fixture(scope="module")
def site(bundle_template, generated, chosen, tmp_path_factory):
    """The bundle, the generated corpus (`chosen` in place of its first document) and the
    Ensembl examples (a mouse and a human track), served."""
    folder = tmp_path_factory.mktemp("search")
    port = free_port()
    store = copy_store(bundle_template, folder / "store")
    del store
    paths = [str(write_json(folder / f"g{i}.json", d)) for i, d in enumerate(generated) if i]
    cli(folder / "store", BASE, "load", *paths,
        str(write_json(folder / "chosen.json", chosen)),
        *(str(p) for p in ensembl_examples().values()))
    with serve(folder / "store", port) as base:
        yield {"base": base, "store": folder / "store", "folder": folder}


def get(site, url: str, **params) -> requests.Response:
    return requests.get(site["base"] + url.lstrip("/"), params=params, timeout=60)


def sparql_tracks(site, query: str) -> list[str]:
    response = requests.get(site["base"] + "sparql", params={"query": query}, timeout=60)
    assert response.status_code == 200, response.text
    return [b["track"]["value"] for b in response.json()["results"]["bindings"]]


def test_ancestor_aware_search_finds_what_its_sparql_finds(site, chosen):
    body = get(site, "search/facets.json", sample_type="CL:0000542", size="500").json()
    assert body["total"] == len(body["tracks"]) > 0
    assert track_iris(chosen, sample=0) <= set(body["tracks"])  # B cell, two levels below
    assert body["tracks"] == sparql_tracks(site, body["sparql"])  # same tracks, same order
    counts = {v["key"]: v["count"] for v in body["facets"]["sample_type"]}
    assert counts[B_CELL] <= counts[LYMPHOCYTE] == body["total"]  # disjunctive: own field kept


def test_choosing_values_narrows_the_other_fields(site):
    everything = get(site, "search/facets.json").json()
    technique = everything["facets"]["technique"][-1]["key"]  # a rarely used technique
    narrowed = get(site, "search/facets.json", technique=technique, size="500").json()
    assert 0 < narrowed["total"] < everything["total"]
    for assembly in narrowed["facets"]["assembly"]:
        query = ("SELECT (COUNT(DISTINCT ?track) AS ?n) WHERE { ?track ft:technique_ancestor "
                 f"<{technique}> ; ft:assembly_name {json.dumps(assembly['key'])} }}")
        found = requests.get(site["base"] + "sparql", params={"query": query}, timeout=60)
        assert int(found.json()["results"]["bindings"][0]["n"]["value"]) == assembly["count"]
    assert sum(v["count"] for v in narrowed["facets"]["assembly"]) == narrowed["total"]
    both = get(site, "search/facets.json", technique=technique,
               assembly=narrowed["facets"]["assembly"][0]["key"], size="500").json()
    assert set(both["tracks"]) <= set(narrowed["tracks"])
    assert both["tracks"] == sparql_tracks(site, both["sparql"])


def test_free_text_and_paging(site):
    first = get(site, "search/facets.json", q="peaks", size="7").json()
    second = get(site, "search/facets.json", q="peaks", size="7", page="2").json()
    assert first["total"] > 14 and len(first["tracks"]) == 7
    assert first["tracks"] + second["tracks"] == sparql_tracks(
        site, first["sparql"].replace("LIMIT 7", "LIMIT 14"))


def test_value_tree_and_term_lookup(site):
    children = get(site, "search/children", field="sample_type", value=LYMPHOCYTE).json()
    assert children and all(c["count"] > 0 for c in children)
    assert all(c["url"].startswith("/search?") for c in children)
    found = get(site, "search/terms", text="B-lymph").json()
    assert found[0]["key"] == B_CELL and found[0]["how"] == "exact synonym"
    assert found[0]["url"] == "/search?sample_type=" + requests.utils.quote(B_CELL, safe="")


def test_fields_list_the_values_documents_use_first(site):
    body = get(site, "search/facets.json").json()
    used = body["used"]["sample_type"]
    counts = [v["count"] for v in used]
    assert counts == sorted(counts, reverse=True) and B_CELL in [v["key"] for v in used]
    annotated = {b["t"]["value"] for b in requests.get(site["base"] + "sparql", params={
        "query": "PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#> SELECT DISTINCT ?t "
                 "WHERE { ?s ft:sample_type/(ft:cell_type|ft:abnormal_cell_type|ft:cell_line|"
                 "ft:organism_part)/ft:term_id ?t }"}, timeout=60).json()["results"]["bindings"]}
    assert {v["key"] for v in used} <= annotated | {
        k.replace(EFO_IRI_PREFIX, EFO_PURL_PREFIX) for k in annotated}
    assert LYMPHOCYTE not in {v["key"] for v in used} or LYMPHOCYTE in annotated
    # literal fields list every value, as before
    assert body["used"]["assembly"] == body["facets"]["assembly"]


def test_the_roll_up_skips_classes_that_divide_nothing():
    import numpy as np

    from fairtracks_ld.search.fields import BY_NAME
    from fairtracks_ld.search.index import FieldIndex
    from fairtracks_ld.search.rollup import rolled_up, used_values

    # root ⊃ a ⊃ {b, c ⊃ d}; root ⊃ e; documents use b, d and e
    facet = FieldIndex(BY_NAME["sample_type"], list("0abcde"), {}, np.zeros(0, dtype=np.int32),
                       np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                       np.zeros(6, dtype=bool), children={0: [1, 5], 1: [2, 3], 3: [4]},
                       direct=np.array([0, 0, 1, 0, 1, 1], dtype=bool))
    counts = np.array([10, 7, 4, 3, 3, 3])
    assert used_values(facet, counts) == [2, 4, 5]
    assert rolled_up(facet, counts, [0]) == [1, 5]  # the root holds every track: skipped
    assert rolled_up(facet, counts, [2, 3]) == [2, 4]  # c's one child holds its tracks
    assert rolled_up(facet, np.array([10, 7, 4, 3, 3, 0]), [0]) == [2, 4]  # e gone: a holds all


def test_ensembl_tracks_are_searched_by_their_own_species(site):
    """An Ensembl track names its species itself (no experiment → sample): the species field
    counts it there, alongside FAIRtracks tracks, and the SPARQL shown finds the same."""
    everything = get(site, "search/facets.json").json()["facets"]
    assert {"Mus musculus", "Homo sapiens"} <= {v["key"] for v in everything["species"]}
    for species, track, others in [("Mus musculus", MOUSE_TRACK, HUMAN_TRACK),
                                   ("Homo sapiens", HUMAN_TRACK, MOUSE_TRACK)]:
        body = get(site, "search/facets.json", species=species, size="500").json()
        assert track in body["tracks"] and others not in body["tracks"]
        assert body["total"] == len(body["tracks"])
        assert body["tracks"] == sparql_tracks(site, body["sparql"])
    human = get(site, "search/facets.json", species="Homo sapiens", size="500").json()
    assert any(not t.startswith(ENSEMBL) for t in human["tracks"])  # both models together
    mouse_assembly = get(site, "search/facets.json", assembly="GRCm38").json()
    assert mouse_assembly["tracks"] == [MOUSE_TRACK]
    assert {v["key"]: v["count"] for v in mouse_assembly["facets"]["species"]} == {
        "Mus musculus": 1}
    rows = requests.get(site["base"] + "sparql", params={"query": mouse_assembly["sparql_rows"]},
                        timeout=60).json()["results"]["bindings"]
    assert rows[0]["species_"]["value"] == "Mus musculus"  # the results table shows it too


def test_page_rows_are_read_from_the_tracks_own_graphs(site):
    """The rows query names only the version graphs of the page's tracks, and loses nothing
    against the same query over the whole view; versions stored once (these) have no named
    graph, so it reads the view."""
    scoped = get(site, "search/facets.json", size="60").json()["sparql_rows"]
    assert "\nFROM <" not in scoped
    everywhere = "\n".join(line for line in scoped.splitlines() if not line.startswith("FROM "))

    def rows(query: str) -> list[str]:
        response = requests.post(site["base"] + "sparql", data={"query": query}, timeout=60)
        assert response.status_code == 200, response.text
        found = response.json()["results"]["bindings"]
        return sorted(json.dumps(row, sort_keys=True) for row in found)

    assert rows(scoped) == rows(everywhere)
    assert len(rows(scoped)) == 60


def test_segments_of_another_format_are_read_again(site, tmp_path, monkeypatch):
    from fairtracks_ld.search import segments
    from fairtracks_ld.search.reader import read_segment
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.store.snapshots import current_snapshot

    store = TrackStore(current_snapshot(site["store"]), read_only=True)
    version = next(v for v in store.versions() if v.current)
    segment = read_segment(store, version.graph)
    with monkeypatch.context() as older:
        older.setattr(segments, "FORMAT", "an older format")
        segments.save(tmp_path, version.graph, version.loaded_at, segment)
        assert segments.load(tmp_path, version.graph, version.loaded_at) is not None
    assert segments.load(tmp_path, version.graph, version.loaded_at) is None


def api_search(site, query: str, hub: str = "chosen") -> set[str]:
    """local_ids of the tracks the TrackFind-compatible search finds in a hub."""
    response = get(site, f"api/v1/search/data.example.org/{hub}", query=query)
    assert response.status_code == 200, response.text
    return {r["tracks"]["local_id"] for r in response.json()}


def under(term: str, kinds: tuple[str, ...] = SAMPLE_TYPES, negated: bool = False) -> str:
    word = "NOT UNDER" if negated else "under"  # keywords in any case
    return " OR ".join(f"samples->sample_type->{kind}->term_id {word} '{term}'"
                       for kind in kinds)


def test_api_under_finds_descendants_as_the_search_page_does(site, chosen):
    b_and_t = {local_id_of(t) for t in track_iris(chosen, sample=0) | track_iris(chosen, sample=1)}
    assert chosen["samples"][1]["sample_type"]["cell_type"]["term_id"] == T_CELL
    by_label = api_search(site, under("lymphocyte", ("cell_type",)))
    assert b_and_t <= by_label
    assert by_label == api_search(site, under("CL:0000542", ("cell_type",))) == api_search(
        site, under(LYMPHOCYTE, ("cell_type",)))
    page = get(site, "search/facets.json", sample_type="CL:0000542", size="500",
               collection=BASE + "collection/chosen").json()
    assert api_search(site, under("lymphocyte")) == {local_id_of(t) for t in page["tracks"]}
    every = {local_id_of(t) for t in track_iris(chosen)}
    outside = api_search(site, under("lymphocyte", ("cell_type",), negated=True))
    assert outside == every - by_label
    assert outside == api_search(site, "NOT " + under("lymphocyte", ("cell_type",)))
    labels = get(site, "api/v1/values/data.example.org/chosen/samples",
                 path="sample_type->cell_type->term_label", query=under("lymphocyte")).json()
    assert {"B cell", "T cell"} <= set(labels)


def test_api_under_takes_either_efo_iri(site, chosen):
    line = next(s["sample_type"]["cell_line"]["term_id"] for s in chosen["samples"]
                if s["sample_type"].get("cell_line", {}).get("term_id", "")
                .startswith(EFO_IRI_PREFIX))
    purl = line.replace(EFO_IRI_PREFIX, EFO_PURL_PREFIX)
    curie = line.replace(EFO_IRI_PREFIX, "EFO:")
    found = api_search(site, under(line, ("cell_line",)))
    assert found and found == api_search(site, under(purl, ("cell_line",))) == api_search(
        site, under(curie, ("cell_line",)))
    page = get(site, "search/facets.json", sample_type=purl, size="500",
               collection=BASE + "collection/chosen").json()
    assert api_search(site, under(purl)) == {local_id_of(t) for t in page["tracks"]}


@pytest.mark.parametrize(("url", "params", "words"), [
    ("search/facets.json", {"colour": "red"}, "unknown parameter"),
    ("search/facets.json", {"sample_type": "not a term"}, "no track has"),
    ("search/facets.json", {"sample_type": "http://bad iri"}, "no track has"),
    ("search/facets.json", {"page": "0"}, "page must be"),
    ("search/facets.json", {"size": "x"}, "size must be"),
    ("search", {"size": "100000"}, "size must be"),
    ("search/children", {"field": "assembly", "value": "hg38"}, "ontology fields"),
    ("search/terms", {"text": ""}, "1 to 200"),
    ("api/v1/search/data.example.org/chosen", {"query": "tracks->local_id = 'x"}, "bad query"),
    ("api/v1/search/data.example.org/chosen", {"query": "lab->x = 'y'"}, "unknown category"),
    ("api/v1/search/data.example.org/chosen", {"query": "tracks->a = 'b' c"}, "AND or OR"),
    ("api/v1/search/data.example.org/chosen", {"query": "tracks->a = 'b'; DROP"}, "bad query"),
    ("api/v1/search/data.example.org/chosen", {"query": "x", "limit": "-1"}, "bad query"),
    ("api/v1/search/data.example.org/chosen", {}, "query is required"),
    ("api/v1/search/data.example.org/chosen",
     {"query": "samples->sample_type->cell_type->term_id UNDER 'no such cell'"}, "unknown term"),
    ("api/v1/search/data.example.org/chosen", {"query": "tracks->a UNDER 'CL:9999999'"},
     "unknown term"),
    ("api/v1/search/data.example.org/chosen", {"query": "tracks->a UNDER 'CL:1>'"}, "not a valid"),
    ("api/v1/search/data.example.org/chosen",
     {"query": "samples->sample_type->cell_type UNDER 'CL:0000542'"},
     "is an object, not a value: continue the path with ->term_id or ->term_label"),
    ("api/v1/search/data.example.org/chosen", {"query": "tracks->a NOT = 'b'"}, "expected UNDER"),
    ("api/v1/values/data.example.org/chosen/samples",
     {"path": "local_id", "query": "samples->x UNDER 'no such cell'"}, "unknown term"),
    ("api/v1/values/data.example.org/chosen/samples", {}, "path is required"),
    ("api/v1/attributes/data.example.org/chosen/labs", {}, "unknown category"),
    ("api/v1/metamodel/data.example.org/chosen", {"flat": "maybe"}, "true or false"),
])
def test_bad_input_gets_a_json_400(site, url, params, words):
    response = get(site, url, **params)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert words in response.json()["error"]


def test_gsuite_export_follows_the_format(site, chosen):
    response = get(site, "search/export.gsuite", sample_type=B_CELL, collection=(
        BASE + "collection/chosen"))
    assert response.status_code == 200
    lines = response.text.splitlines()
    headers = [line for line in lines if line.startswith("##") and not line.startswith("###")]
    assert [h.split(":")[0] for h in headers] == ["##location", "##file format", "##track type",
                                                   "##genome"]
    assert "##location: remote" in headers
    columns = next(line for line in lines if line.startswith("###"))[3:].split("\t")
    assert columns[:5] == ["uri", "title", "file_format", "track_type", "genome"]
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    assert len(rows) == len(track_iris(chosen, sample=0))
    assert all(len(row) == len(columns) for row in rows)
    titles = [row[1] for row in rows]
    assert len(set(titles)) == len(titles)
    assert {row[columns.index("track_iri")] for row in rows} == track_iris(chosen, sample=0)


def test_json_export_is_a_fairtracks_document_of_the_selection(site, chosen):
    response = get(site, "search/export.json", sample_type=B_CELL,
                   collection=BASE + "collection/chosen")
    document = response.json()
    assert document["collection_info"]["local_id"] == "chosen"
    assert {t["local_id"] for t in document["tracks"]} == {
        local_id_of(t) for t in track_iris(chosen, sample=0)}
    assert {e["local_id"] for e in document["experiments"]} == {
        t["experiment_ref"] for t in document["tracks"]}
    assert [s["local_id"] for s in document["samples"]] == [chosen["samples"][0]["local_id"]]
    spanning = get(site, "search/export.json", technique="OBI:0000070")
    assert spanning.status_code == 400 and "one collection" in spanning.json()["error"]


def test_trackfind_api_lists_describes_and_searches(site, chosen):
    assert "data.example.org" in get(site, "api/v1/repositories").json()
    hubs = get(site, "api/v1/hubs/data.example.org").json()
    assert "chosen" in hubs
    hub = "api/v1/{}/data.example.org/chosen"
    assert get(site, hub.format("categories")).json()[:4] == [
        "tracks", "experiments", "samples", "studies"]
    assert "cell_type" in get(site, hub.format("attributes") + "/samples",
                              path="sample_type").json()
    labels = get(site, hub.format("values") + "/samples",
                 path="sample_type->cell_type->term_label").json()
    assert "B cell" in labels
    flat = get(site, hub.format("metamodel"), flat="true").json()
    assert "B cell" in flat["samples"]["sample_type->cell_type->term_label"]
    nested = get(site, hub.format("metamodel")).json()
    assert "B cell" in nested["samples"]["sample_type"]["cell_type"]["term_label"]
    query = "samples->sample_type->cell_type->term_label = 'B cell' AND tracks->local_id ~ 'FF'"
    found = get(site, hub.format("search"), query=query, categories="tracks,samples").json()
    assert {r["tracks"]["local_id"] for r in found} == {
        local_id_of(t) for t in track_iris(chosen, sample=0)}
    assert set(found[0]) == {"tracks", "samples"}
    assert len(get(site, hub.format("search"), query=query, limit="1").json()) == 1
    text = requests.get(site["base"] + hub.format("search"), timeout=60,
                        params={"query": query, "attributes": "samples->species_name"},
                        headers={"Accept": "text/plain"})
    assert text.headers["Content-Type"].startswith("text/plain")
    lines = text.text.splitlines()
    assert lines[4] == "###uri\ttitle\tfile_format\ttrack_type\tgenome\tsamples->species_name"
    assert len(lines) == 5 + len(found)
    spec = get(site, "api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/repositories", "/search/{repository}/{hub}"} <= set(spec["paths"])
    assert "structured filter" in spec["info"]["description"]


# ---- the page in Debian's Chromium (Playwright) ------------------------------------------


@pytest.fixture
def page(browser, site):  # noqa: F811  (browser: the fixture imported above)
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    tab = context.new_page()
    tab.seen = {"errors": [], "dialogs": [], "outside": []}
    origin = urlsplit(site["base"]).netloc
    tab.on("pageerror", lambda e: tab.seen["errors"].append(str(e)))
    tab.on("dialog", lambda d: (tab.seen["dialogs"].append(d.message), d.dismiss()))
    tab.on("request", lambda r: urlsplit(r.url).netloc == origin or r.url.startswith("data:")
           or tab.seen["outside"].append(r.url))
    tab.set_default_timeout(20_000)
    yield tab
    assert tab.seen == {"errors": [], "dialogs": [], "outside": []}
    context.close()


def total(tab) -> int:
    return int(tab.locator("#total strong").inner_text().replace(",", ""))


def test_find_a_term_by_synonym_and_see_its_tracks(page, site, chosen):
    page.goto(site["base"])
    page.locator("a#search-link").click()
    page.wait_for_url("**/search")
    everything = total(page)
    page.locator("#term-input").fill("B-lymph")
    suggestion = page.locator("#suggestions a.suggestion", has_text="B cell").first
    suggestion.click()
    page.wait_for_url("**/search?sample_type=*")
    assert parse_qs(urlsplit(page.url).query)["sample_type"] == [B_CELL]
    expected = get(site, "search/facets.json", sample_type=B_CELL).json()["total"]
    assert total(page) == expected < everything
    assert expected >= len(track_iris(chosen, sample=0))
    assert (f"{track_path('sample_type', prefixed=True)} "
            "<http://purl.obolibrary.org/obo/CL_0000236>") in \
        page.locator("#search-sparql").inner_text()
    assert "VALUES ?track" in page.locator("#rows-sparql").inner_text()
    # the other fields are narrowed: their counts add up to the matches
    assemblies = page.locator("#facet-assembly .count").all_inner_texts()
    assert sum(map(int, assemblies)) == total(page)
    # the shareable URL gives the same search; a row leads to its track page
    shared = page.locator("a#share").get_attribute("href")
    page.goto(shared)
    assert total(page) == expected
    first = page.locator("#results tbody a").first
    label = first.inner_text()
    first.click()
    page.wait_for_url("**/track/**")
    assert page.locator("h1").inner_text() == label


def test_browse_the_tree_and_narrow(page, site):
    page.goto(site["base"] + "search")
    facet = page.locator("#facet-sample_type")
    # the field first lists the values documents use; the tree is a roll-up view on request
    used = get(site, "search/facets.json").json()["used"]["sample_type"]
    assert facet.locator("ul.used").first.locator("a.value").all_inner_texts() == [
        v["label"] for v in used[:12]]
    assert not facet.locator("ul.tree").is_visible()
    facet.locator("details.rollup summary").click()
    facet.locator("ul.tree button.expand").first.click()
    child = facet.locator("li > ul > li").first
    child.wait_for()
    expected = int(child.locator(".count").first.inner_text())
    child.locator("a.value").first.click()
    page.wait_for_url("**/search?sample_type=*")
    assert total(page) == expected
    assert page.locator("#chosen a.chosen").count() == 1
    page.locator("#chosen a.chosen").click()  # removing the filter restores everything
    page.wait_for_url("**/search")
    assert page.locator("#chosen a.chosen").count() == 0


def test_paging_and_free_text(page, site):
    page.goto(site["base"] + "search?size=5")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 5
    first_page = rows.all_inner_texts()
    page.locator("a#next").click()
    page.wait_for_url("**page=2**")
    assert rows.count() == 5 and rows.all_inner_texts() != first_page
    page.locator("#text-input").fill("<script>alert")
    page.locator("#text-search button").click()
    page.wait_for_url("**q=**")
    assert total(page) == 1
    assert page.locator("#results tbody a").inner_text() == HOSTILE  # shown as text, not run
    assert page.locator("main script:not([src])").count() == 0


def test_results_fit_a_laptop_screen(page, site):
    """Every column, the last (format) included, is visible without scrolling sideways."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(site["base"] + "search")
    # a long unbroken value, as real labels and file names have, must wrap, not widen the page
    page.locator("#results tbody td").first.evaluate(
        "cell => cell.querySelector('a').textContent = 'ENCFF000AAA_'.repeat(20)")
    page.locator("#rows-sparql").evaluate(  # so must a long IRI in the SPARQL shown
        "pre => pre.textContent = '<http://example.org/' + 'track/'.repeat(60) + '>'")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    box = page.locator("#results thead th").last.bounding_box()
    assert box["x"] + box["width"] <= 1280


def test_a_load_while_serving_becomes_searchable(site):
    from fairtracks_ld.generate import generate_documents

    doc = renamed(annotate(next(generate_documents(tracks=30, seed=99)),
                           samples={0: {"cell_type": term(B_CELL, "B cell")}}), "late")
    late = BASE + "collection/late"
    assert get(site, "search/facets.json", collection=late).status_code == 400
    cli(site["store"], BASE, "load", str(write_json(site["folder"] / "late.json", doc)))
    body = get(site, "search/facets.json", collection=late, sample_type=B_CELL).json()
    assert body["total"] == len(track_iris(doc, sample=0)) > 0
    assert all(t.startswith(late + "/") for t in body["tracks"])


def test_segments_kept_on_disk_rebuild_the_same_index(site, tmp_path, monkeypatch):
    from fairtracks_ld.search import index as facet_index
    from fairtracks_ld.search import segments
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.store.snapshots import current_snapshot

    store = TrackStore(current_snapshot(site["store"]), read_only=True)
    first = facet_index.build_index(store, "first", tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == len(store.current_graphs())

    def unread(*_):
        raise AssertionError("a graph was read again although its segment is on disk")

    monkeypatch.setattr(segments, "read_segment", unread)
    second = facet_index.build_index(store, "second", tmp_path)
    assert second.tracks == first.tracks and second.text == first.text
    for name, facet in first.fields.items():
        assert second.fields[name].keys == facet.keys
        assert (second.totals[name] == first.totals[name]).all()
