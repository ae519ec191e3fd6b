"""Resource pages for people and genome-browser exports, against a real served store: the
examples, a generated collection, the Ensembl examples, a controlled-access document and a tiny
cell ontology."""

from __future__ import annotations

import copy
import html
import json
import re

import pytest
import requests
from conftest import write_json
from rdflib import Graph
from servers import EXAMPLES, cli, free_port, html_page, html_section, serve
from test_server import TRACK
from test_web_browser import MINI_CL

from fairtracks_ld.paths import data_dir
from fairtracks_ld.web import browsers, hubs

ENSEMBL_EXAMPLES = [str(p) for p in sorted((data_dir("standard") / "ensembl" / "examples")
                                           .glob("*.json"))]
HUB_TYPES = {"bigWig", "bigBed", "bam", "cram", "vcfTabix", "bigInteract", "hic"}


@pytest.fixture(scope="module")
def site(tmp_path_factory, examples):
    folder = tmp_path_factory.mktemp("pages")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    store = folder / "store"
    controlled = copy.deepcopy(examples["v1-current"])
    controlled["collection_info"]["local_id"] = "controlled"
    controlled["tracks"][0]["file_url"] = "https://ega-archive.org/files/EGAF00000000001"
    cli(store, base, "generate", "--tracks", "120", "--seed", "3", "--out", str(folder / "gen"))
    (folder / "mini-cl.ttl").write_text(MINI_CL, encoding="utf-8")
    cli(store, base, "ontologies", "add", str(folder / "mini-cl.ttl"))
    cli(store, base, "load", "--allow-invalid", *EXAMPLES, *ENSEMBL_EXAMPLES,
        str(write_json(folder / "controlled.json", controlled)), str(folder / "gen"))
    with serve(store, port) as served:
        yield served






def test_a_track_page_starts_with_a_summary_and_ends_with_the_triples(site):
    text = html_page(site, TRACK)
    order = [text.index(f'id="{name}"') for name in
             ("summary", "genome-browsers", "provenance", "ontology-context", "properties")]
    assert order == sorted(order)
    summary = html_section(text, "summary")
    # every ontology annotation by label with its CURIE: the track's, its experiment's, sample's
    for label, curie in (("ENCODE narrow peak format", "EDAM_format:3613"),
                         ("histone modification identification by ChIP-Seq assay",
                          "OBI:0002017"), ("B cell", "CL:0000236"), ("mesoderm", "UBERON:0000926"),
                         ("H3K4_trimethylation", "SO:0001706")):
        assert re.search(re.escape(label) + r" <a [^>]*>" + re.escape(curie) + "</a>", summary)
    assert "Homo sapiens (NCBITaxon:9606)" in summary
    assert "hg38" in summary
    assert 'download>ENCFF625ZYB.bed.gz</a>' in summary
    assert "MD5 0ab98dbd2a2193ab3e09df030ea4f934" in summary
    # related entities by their labels, not their IRIs
    assert ">Histone Modifications by ChIP-seq from ENCODE/University of Washington</a>" in summary
    assert ">ENCODE example</a>" in summary
    assert "B cell (mesoderm, CD20+) (encode:ENCBS192PUU)</a>" in summary
    assert 'id="licence">licence not stated' in summary


def test_provenance_names_the_version_and_links_the_validation_report(site):
    text = html_page(site, TRACK)
    prov = html_section(text, "provenance")
    assert "standard/master/examples/fairtracks.example.json" in prov
    assert "conforms" in prov
    report = html.unescape(re.search(r'href="([^"]+)" id="report-link"', prov).group(1))
    answer = requests.get(report, timeout=30)
    assert answer.status_code == 200
    graph = Graph().parse(data=answer.text, format="turtle")
    assert any("ValidationReport" in str(o) for o in graph.objects())


def test_ontology_context_comes_folded_from_the_class_closure(site):
    text = html_page(site, TRACK)
    start = text.index('<details id="ontology-context">')  # collapsed: no `open`
    context = text[start:text.index("</details>", start)]
    row = context[context.index("B cell"):]
    assert ">lymphocyte of B lineage</a> · <a" in row and ">lymphocyte</a>" in row
    # inferred ancestor rows come after the track's own properties in the full table
    table = text[text.index('id="properties"'):]
    assert table.index("ft:label_short") < table.index("ft:cell_type_ancestor")


def test_machine_representations_are_unchanged_by_the_page(site):
    turtle = requests.get(site + TRACK, headers={"Accept": "text/turtle"}, timeout=30)
    assert turtle.headers["Content-Type"].startswith("text/turtle")
    assert "<html" not in turtle.text and "ft:label_short" in turtle.text


def test_open_in_links_are_built_from_assembly_url_and_format(site):
    text = html_page(site, "collection/encode_example/track/encode:ENCFF492CEQ")  # a bigWig
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+)" rel="external" '
                                                  r'class="open-in"', text)]
    ucsc, igv, ensembl = links
    assert ucsc.startswith("https://genome.ucsc.edu/cgi-bin/hgTracks?db=hg38&")
    assert "bigDataUrl%3Dhttps%3A%2F%2Fwww.encodeproject.org" in ucsc and "type%3DbigWig" in ucsc
    assert igv.startswith("https://igv.org/app/?genome=hg38&file=https%3A%2F%2F")
    assert "format=bigwig" in igv
    assert ensembl.startswith("https://www.ensembl.org/Homo_sapiens/Location/View?r=")
    assert "igv-load" in text


def test_an_ensembl_track_page_on_grch37_offers_the_grch37_sites(site):
    text = html_page(site, "collection/ensembl-ensembl-89/track/homo_sapiens/GRCh37/"
                      "Constrained%20elements")
    assert 'id="kind">Ensembl track' in text
    assert "https://grch37.ensembl.org/Homo_sapiens/Location/View" in html.unescape(text)
    assert "db=hg19" in html.unescape(text)


def test_a_controlled_access_file_is_marked_and_offered_to_no_browser(site):
    text = html_page(site, "collection/controlled/track/encode:ENCFF625ZYB")
    assert 'id="controlled">controlled access' in text
    assert 'class="open-in"' not in text and "igv-load" not in text
    # each of the three browsers and the embedded view says why
    assert text.count("the file is under controlled access") == 4


def test_a_collection_page_pages_through_its_tracks(site):
    collection = requests.get(site + "search/facets.json", timeout=30).json()["facets"][
        "collection"]
    generated = next(v for v in collection if "gen-" in v["key"])
    path = generated["key"][len(site):]
    first = html_page(site, path)
    assert f"Tracks ({generated['count']})" in first
    rows = html_section(first, "tracks").count("<tr>")
    assert rows == min(50, generated["count"])
    last_page = -(-generated["count"] // 50)
    for _ in range(4):  # every server process, its cached first page included, tells them apart
        last = html_page(site, f"{path}?page={last_page}")
        rows_last = html_section(last, "tracks").count("<tr>")
        assert rows_last == generated["count"] - 50 * (last_page - 1)
        assert f"Tracks ({generated['count']})" in html_page(site, path)
    assert 'rel="next"' in first and 'rel="next"' not in last


def test_browser_offers_say_why_not():
    bigwig = browsers.file_format("http://edamontology.org/format_3006", None)
    assert [o.reason for o in browsers.offers("https://x.org/a.bw", bigwig, "susScr11", "a")] \
        == ["assembly susScr11 is not one this site maps to a browser's genome"] * 3
    hic = browsers.file_format(None, "https://x.org/a.hic")
    ucsc, igv, ensembl = browsers.offers("https://x.org/a.hic", hic, "GRCh38", "a")
    assert ucsc.url and igv.url and ensembl.url is None
    assert ensembl.reason == "Ensembl does not attach hic files"
    mm10 = browsers.offers("https://x.org/a.bw", bigwig, "mm10", "a")
    assert mm10[2].reason == "Ensembl hosts no mm10 (mm10) site"
    assert browsers.file_format("http://edamontology.org/format_3016", "https://x/a.vcf.gz"
                                ).name == "VCF.gz"


# ---- track hubs and IGV sessions -------------------------------------------------------------


def hub_of(site: str, query: str) -> tuple[str, dict[str, str]]:
    text = html_page(site, "search?" + query)
    hub = html.unescape(re.search(r'id="track-hub" href="([^"]+)"', text).group(1))
    return hub, {"session": html.unescape(re.search(r'id="igv-session" href="([^"]+)"',
                                                    text).group(1))}


def stanzas(trackdb: str) -> list[dict[str, str]]:
    found = []
    for block in trackdb.strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        if lines:
            found.append(dict(line.split(" ", 1) for line in lines))
    return found


def test_a_track_hub_follows_ucsc_rules(site):
    hub, _ = hub_of(site, "")
    assert hub.endswith("/hub.txt")
    hub_txt = requests.get(hub, timeout=30).text
    keys = dict(line.split(" ", 1) for line in hub_txt.strip().splitlines())
    assert set(keys) == {"hub", "shortLabel", "longLabel", "genomesFile", "email"}
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", keys["hub"])
    assert len(keys["shortLabel"]) <= 17 and len(keys["longLabel"]) <= 76
    folder = hub.rsplit("/", 1)[0] + "/"
    genomes = requests.get(folder + keys["genomesFile"], timeout=30).text
    entries = stanzas(genomes)
    assert {e["genome"] for e in entries} >= {"hg38"}
    names: set[str] = set()
    for entry in entries:
        trackdb = requests.get(folder + entry["trackDb"], timeout=60)
        assert trackdb.status_code == 200
        tracks = stanzas(trackdb.text)
        assert tracks, f"no tracks for {entry['genome']}"
        for track in tracks:
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", track["track"])
            assert track["track"] not in names
            names.add(track["track"])
            assert len(track["shortLabel"]) <= 17 and len(track["longLabel"]) <= 76
            assert track["type"] in HUB_TYPES
            assert track["bigDataUrl"].startswith(("http://", "https://"))
            assert "ega-archive" not in track["bigDataUrl"]
        if entry["genome"] == "hg38":  # text formats are left out, and the hub says so
            assert "is not a binary indexed format" in trackdb.text


def test_a_hub_url_follows_the_search_and_rejects_foreign_tokens(site):
    hub, _ = hub_of(site, "file_format=http://edamontology.org/format_3006")
    folder = hub.rsplit("/", 1)[0] + "/"
    tracks = stanzas(requests.get(folder + "hg38/trackDb.txt", timeout=30).text)
    assert tracks and {t["type"] for t in tracks} == {"bigWig"}
    assert hub == hub_of(site, "file_format=http://edamontology.org/format_3006&page=1")[0]
    bad = requests.get(site + "hub/%25%25/hub.txt", timeout=30)
    assert bad.status_code == 400 and "not one this site made" in bad.json()["error"]


def test_an_igv_session_holds_the_selection_for_one_genome(site):
    _, links = hub_of(site, "assembly=hg38")
    session = requests.get(links["session"], timeout=30)
    assert session.status_code == 200
    body = session.json()
    assert body["genome"] == "hg38" and body["tracks"]
    assert all(t["url"].startswith("http") and t["format"] for t in body["tracks"])
    assert not any("ega-archive" in t["url"] for t in body["tracks"])
    bam = [t for t in body["tracks"] if t["format"] == "bam"]
    assert all(t["indexURL"] == t["url"] + ".bai" for t in bam)
    mixed = requests.get(site + "search/igv-session.json", timeout=30)
    assert mixed.status_code == 400 and "genome=" in mixed.json()["error"]


def test_hub_labels_are_clipped_and_names_made_unique():
    taken: set[str] = set()
    assert hubs.track_name("encode:ENCFF1", taken) == "encode_ENCFF1"
    assert hubs.track_name("encode:ENCFF1", taken) == "encode_ENCFF1_2"
    assert hubs.track_name("1-abc", taken) == "t1_abc"
    assert hubs.clip("  a  very long label that goes on ", 17) == "a very long label"
    assert json.dumps(hubs.igv_session("hg38", [])) == '{"genome": "hg38", "tracks": []}'


# ---- FAIR Signposting and schema.org ---------------------------------------------------------


def test_signposting_in_link_headers_and_html(site):
    from signposting import find_signposting_html, find_signposting_http

    url = site + TRACK
    for found in (find_signposting_http(url), find_signposting_html(url)):
        assert str(found.citeAs.target) == url
        described = {str(s.type): str(s.target) for s in found.describedBy}
        assert described["text/turtle"] == url + ".ttl"
        assert described["application/ld+json"] == url + ".jsonld"
        assert {str(t.target) for t in found.types} == {"https://schema.org/Dataset",
                                                        "https://schema.org/AboutPage"}
        assert {str(i.target) for i in found.items} == {
            "https://www.encodeproject.org/files/ENCFF625ZYB/@@download/ENCFF625ZYB.bed.gz"}
        assert str(found.collection.target) == site + "collection/encode_example"
        assert found.license is None  # not stated by the provider: no link is made up
    for path in ("collection/encode_example", "collection/encode_example/study/U54HG004592"):
        assert str(find_signposting_http(site + path).citeAs.target) == site + path
    described = requests.get(url + ".ttl", headers={"Accept": "text/turtle"}, timeout=30)
    assert described.status_code == 200


def embedded_json_ld(text: str) -> list[dict]:
    return [json.loads(html.unescape(block)) for block in re.findall(
        r'<script type="application/ld\+json">(.*?)</script>', text, re.S)]


def schema_terms(node, found: set[str]) -> set[str]:
    """Every schema.org class and property a JSON-LD tree uses."""
    if isinstance(node, list):
        for item in node:
            schema_terms(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "@type":
                found.add(value)
            elif not key.startswith("@") and not key.startswith("dct:"):
                found.add(key)
                schema_terms(value, found)
    return found


BIOSCHEMAS_REQUIRED = {"description", "identifier", "keywords", "license", "name", "url"}


@pytest.mark.parametrize(("path", "recommended"), [
    (TRACK, {"citation", "creator", "datePublished", "distribution", "includedInDataCatalog",
             "measurementTechnique", "variableMeasured", "version"}),
    ("collection/encode_example", {"creator", "datePublished", "distribution",
                                   "includedInDataCatalog", "measurementTechnique",
                                   "version"}),
])
def test_schema_org_dataset_follows_bioschemas(site, path, recommended):
    from rdflib.namespace import SDO

    (body,) = embedded_json_ld(html_page(site, path))
    assert body["@type"] == "Dataset" and body["@id"] == site + path
    unknown = schema_terms(body, set()) - set(SDO.__annotations__)
    assert not unknown, f"not schema.org terms: {unknown}"
    assert set(body) >= BIOSCHEMAS_REQUIRED | recommended
    assert body["license"] == {"@type": "CreativeWork", "name": "licence not stated"}
    graph = Graph().parse(data=json.dumps(body), format="json-ld")
    assert len(graph) > 20


def test_the_site_is_a_data_catalog_and_a_file_a_data_download(site):
    from rdflib.namespace import SDO

    (catalog,) = embedded_json_ld(html_page(site, ""))
    assert catalog["@type"] == "DataCatalog"
    assert site + "collection/encode_example" in {d["@id"] for d in catalog["dataset"]}
    assert not schema_terms(catalog, set()) - set(SDO.__annotations__)
    (track,) = embedded_json_ld(html_page(site, TRACK))
    (file,) = track["distribution"]
    assert file["@type"] == "DataDownload" and file["contentUrl"].endswith("ENCFF625ZYB.bed.gz")
    assert file["encodingFormat"] == "http://edamontology.org/format_3613"
