"""The embedded genome view of a track page in Debian's Chromium: igv.js (vendored) draws a tiny
bigWig on a tiny reference, both fetched by the browser from a separate file server (as from a
data provider: another origin, range requests, CORS), never by the site's server; a file the
browser cannot load is reported on the page."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import write_json
from flask import Flask, Response, send_from_directory
from servers import cli, free_port, serve
from test_web_browser import browser  # noqa: F401 (the shared Chromium fixture)
from werkzeug.serving import make_server

SEQUENCE = "ACGT" * 500  # chr1, 2,000 bases


def tiny_files(folder: Path) -> None:
    """A 2 kb reference (FASTA and its .fai index) and a bigWig over it (pyBigWig)."""
    import pyBigWig

    fasta = ">chr1\n" + "\n".join(SEQUENCE[i:i + 60] for i in range(0, len(SEQUENCE), 60)) + "\n"
    (folder / "tiny.fa").write_text(fasta, encoding="ascii")
    (folder / "tiny.fa.fai").write_text(f"chr1\t{len(SEQUENCE)}\t6\t60\t61\n", encoding="ascii")
    signal = pyBigWig.open(str(folder / "tiny.bw"), "w")
    signal.addHeader([("chr1", len(SEQUENCE))])
    signal.addEntries(["chr1"] * 4, [0, 500, 1000, 1500], ends=[500, 1000, 1500, 2000],
                      values=[1.0, 5.0, 2.0, 8.0])
    signal.close()


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> Iterator[dict[str, object]]:
    """A data provider's file server on another origin: range requests and CORS, as igv.js
    needs; it records what it served."""
    folder = tmp_path_factory.mktemp("provider")
    tiny_files(folder)
    served: list[str] = []
    app = Flask("provider")

    @app.route("/<path:name>", methods=["GET", "OPTIONS"])
    def files(name: str) -> Response:
        served.append(name)
        return send_from_directory(folder, name, conditional=True)

    @app.after_request
    def cors(response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Range"
        response.headers["Access-Control-Expose-Headers"] = "Content-Range, Content-Length"
        return response

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/", "served": served}
    server.shutdown()


@pytest.fixture(scope="module")
def site(tmp_path_factory, examples, provider) -> Iterator[dict[str, str]]:
    """A store whose tracks name the provider's bigWig and a file it does not have; the site
    is told to use the provider's tiny reference as hg38 (FAIRTRACKS_LD_IGV_GENOMES)."""
    folder = tmp_path_factory.mktemp("genome-view")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    document = copy.deepcopy(examples["v1-current"])
    document["collection_info"]["local_id"] = "viewable"
    bigwig = {"term_id": "http://edamontology.org/format_3006", "term_label": "bigWig"}
    for track, name in zip(document["tracks"][:2], ("tiny.bw", "missing.bw"), strict=True):
        track.update(file_url=f"{provider['url']}{name}", file_name=name,
                     file_format=dict(bigwig), assembly_name="hg38")
    store = folder / "store"
    cli(store, base, "load", "--allow-invalid", str(write_json(folder / "doc.json", document)))
    genomes = {"hg38": {"reference": {"id": "hg38", "name": "tiny test reference",
                                      "fastaURL": f"{provider['url']}tiny.fa",
                                      "indexURL": f"{provider['url']}tiny.fa.fai"},
                        "locus": "chr1:1-2000"}}
    config = write_json(folder / "genomes.json", genomes)
    paths = [f"collection/viewable/track/{t['local_id']}" for t in document["tracks"][:2]]
    with serve(store, port, env={"FAIRTRACKS_LD_IGV_GENOMES": str(config)}) as served:
        yield {"base": served, "tiny": paths[0], "missing": paths[1]}


@pytest.fixture
def page(browser, site):  # noqa: F811 (the imported fixture)
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    opened = context.new_page()
    opened.seen = {"requests": [], "errors": []}
    opened.on("request", lambda r: opened.seen["requests"].append(r.url))
    opened.on("pageerror", lambda e: opened.seen["errors"].append(str(e)))
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def test_igv_draws_the_providers_bigwig_in_the_readers_browser(page, site, provider):
    page.goto(site["base"] + site["tiny"])
    config = json.loads(page.locator("#igv-view").get_attribute("data-config"))
    assert config["reference"]["name"] == "tiny test reference"
    view = page.locator("#igv-view")
    assert view.get_attribute("data-state") == "idle"
    assert not any("igv.min.js" in u for u in page.seen["requests"])  # nothing until asked
    assert not provider["served"]
    page.locator("#igv-load").click()
    page.wait_for_selector("#igv-view[data-state='ready'], #igv-view[data-state='failed']")
    assert view.get_attribute("data-state") == "ready", page.locator("#igv-status").inner_text()
    assert page.locator("#igv-status").inner_text() == \
        "Your browser loaded this file from its provider."
    assert page.locator("#igv-view canvas").count() > 0
    # the reader's browser fetched the reference and the bigWig from the provider, by range
    assert {"tiny.fa.fai", "tiny.bw"} <= set(provider["served"])
    origins = {urlsplit(u).netloc for u in page.seen["requests"] if not u.startswith("data:")}
    allowed = {urlsplit(site["base"]).netloc, urlsplit(str(provider["url"])).netloc}
    assert origins <= allowed, page.seen["requests"]
    assert page.seen["errors"] == []


def test_a_file_the_browser_cannot_load_is_reported(page, site):
    page.goto(site["base"] + site["missing"])
    page.locator("#igv-load").click()
    page.wait_for_selector("#igv-view[data-state='failed']")
    status = page.locator("#igv-status").inner_text()
    assert status.startswith("Your browser could not load the track's file")
    assert "CORS" in status
