"""Real SPARQL clients against a live server: SPARQLWrapper with its defaults and in every return
format it offers, rdflib's SPARQLStore, and the protocol's format choices they rely on
(`format=`/`output=` read per query form, `Accept`, HEAD). Comunica's federation is in
test_federation.py, next to the Oxigraph server it joins.
"""

from __future__ import annotations

import warnings
from xml.dom.minidom import Document

import pytest
import requests
from rdflib import Graph, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from servers import EXAMPLES, cli, free_port, serve
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDF, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

FT = "https://w3id.org/fairtracks-ld/vocab#"
TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"
TRACKS = 8  # the two example versions: 4 + 4 tracks


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clients")
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", "--allow-invalid", *EXAMPLES)
    with serve(store, port) as base:
        yield {"base": base, "endpoint": base + "sparql"}


def _queries(base: str) -> dict[str, str]:
    return {
        "SELECT": f"SELECT ?t WHERE {{ ?t a <{FT}Track> }}",
        "ASK": f"ASK {{ ?t a <{FT}Track> }}",
        "CONSTRUCT": f"CONSTRUCT {{ ?t a <{FT}Track> }} WHERE {{ ?t a <{FT}Track> }}",
        "DESCRIBE": f"DESCRIBE <{base}{TRACK}>",
    }


# What each SPARQLWrapper return format yields per query form: (media type, converted type).
RESULT_CASES = {None: ("application/sparql-results+xml", Document),
                XML: ("application/sparql-results+xml", Document),
                JSON: ("application/sparql-results+json", dict),
                CSV: ("text/csv", bytes), TSV: ("text/tab-separated-values", bytes)}
GRAPH_CASES = {None: ("application/rdf+xml", Graph), XML: ("application/rdf+xml", Graph),
               RDFXML: ("application/rdf+xml", Graph), RDF: ("application/rdf+xml", Graph),
               JSON: ("application/ld+json", Graph), JSONLD: ("application/ld+json", Graph),
               TURTLE: ("text/turtle", bytes), N3: ("text/turtle", bytes)}
CASES = [(form, fmt, *expected) for form in ("SELECT", "ASK")
         for fmt, expected in RESULT_CASES.items()] + [
        (form, fmt, *expected) for form in ("CONSTRUCT", "DESCRIBE")
        for fmt, expected in GRAPH_CASES.items()]


@pytest.mark.parametrize(("form", "fmt", "media", "converted"), CASES,
                         ids=[f"{c[0]}-{c[1] or 'default'}" for c in CASES])
def test_sparqlwrapper_in_every_return_format(server, form, fmt, media, converted):
    wrapper = SPARQLWrapper(server["endpoint"])
    wrapper.setQuery(_queries(server["base"])[form])
    if fmt is not None:
        wrapper.setReturnFormat(fmt)
    with warnings.catch_warnings():  # SPARQLWrapper warns when it sends Accept: */*
        warnings.simplefilter("ignore", RuntimeWarning)
        result = wrapper.query()
    assert result.info()["content-type"].startswith(media)
    value = result.convert()
    assert isinstance(value, converted)
    if form == "SELECT" and fmt == JSON:
        assert len(value["results"]["bindings"]) == TRACKS
    if form == "ASK" and fmt == JSON:
        assert value["boolean"] is True
    if isinstance(value, Graph):
        assert len(value) >= (TRACKS if form == "CONSTRUCT" else 20)
    if isinstance(value, bytes) and media == "text/turtle":
        assert len(Graph().parse(data=value, format="turtle")) > 0


def test_sparqlwrapper_posts_too(server):
    wrapper = SPARQLWrapper(server["endpoint"])
    wrapper.setMethod(POST)
    wrapper.setQuery(_queries(server["base"])["SELECT"])
    wrapper.setReturnFormat(JSON)
    assert len(wrapper.query().convert()["results"]["bindings"]) == TRACKS


def test_rdflib_sparqlstore_with_its_defaults(server):
    graph = Graph(store=SPARQLStore(server["endpoint"]))
    rows = list(graph.query(_queries(server["base"])["SELECT"]))
    assert len(rows) == TRACKS
    assert graph.query(_queries(server["base"])["ASK"]).askAnswer is True
    constructed = graph.query(_queries(server["base"])["CONSTRUCT"]).graph
    assert len(constructed) == TRACKS
    track = URIRef(server["base"] + TRACK)
    assert (track, None, None) in graph  # triple patterns become SPARQL queries too


@pytest.mark.parametrize(("name", "media"), [
    ("turtle", "text/turtle"), ("ttl", "text/turtle"), ("nt", "application/n-triples"),
    ("nq", "application/n-quads"), ("trig", "application/trig"),
    ("jsonld", "application/ld+json"), ("json", "application/ld+json"),
    ("rdfxml", "application/rdf+xml"), ("xml", "application/rdf+xml"),
])
def test_format_names_for_graph_results(server, name, media):
    for parameter in ("format", "output"):
        answer = requests.get(server["endpoint"], timeout=30, params={
            "query": _queries(server["base"])["CONSTRUCT"], parameter: name})
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith(media)


@pytest.mark.parametrize(("name", "media"), [
    ("json", "application/sparql-results+json"), ("xml", "application/sparql-results+xml"),
    ("csv", "text/csv"), ("tsv", "text/tab-separated-values"),
    ("text", "text/tab-separated-values"),
])
def test_format_names_for_results(server, name, media):
    answer = requests.get(server["endpoint"], timeout=30, params={
        "query": _queries(server["base"])["SELECT"], "format": name})
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(media)


def test_a_format_for_another_query_form_leaves_the_choice_to_accept(server):
    construct = requests.get(server["endpoint"], timeout=30, headers={"Accept": "text/turtle"},
                             params={"query": _queries(server["base"])["CONSTRUCT"],
                                     "format": "csv"})
    assert construct.status_code == 200
    assert construct.headers["Content-Type"].startswith("text/turtle")
    select = requests.get(server["endpoint"], timeout=30, headers={"Accept": "text/csv"},
                          params={"query": _queries(server["base"])["SELECT"],
                                  "format": "turtle"})
    assert select.headers["Content-Type"].startswith("text/csv")
    unknown = requests.get(server["endpoint"], timeout=30, params={
        "query": _queries(server["base"])["SELECT"], "format": "yaml"})
    assert unknown.status_code == 406 and "unknown format" in unknown.text
    refused = requests.get(server["endpoint"], timeout=30, headers={"Accept": "image/png"},
                           params={"query": _queries(server["base"])["SELECT"]})
    assert refused.status_code == 406 and refused.headers["Vary"] == "Accept"


@pytest.mark.parametrize(("accept", "rdflib_format"), [
    ("application/n-quads", "nquads"), ("application/trig", "trig"),
    ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml")])
def test_describe_in_quad_and_other_syntaxes(server, accept, rdflib_format):
    answer = requests.get(server["endpoint"], headers={"Accept": accept}, timeout=30,
                          params={"query": _queries(server["base"])["DESCRIBE"]})
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(accept)
    assert len(Graph().parse(data=answer.content, format=rdflib_format)) > 20


def test_head_answers_like_get_without_a_body(server):
    params = {"query": _queries(server["base"])["SELECT"]}
    get = requests.get(server["endpoint"], params=params, timeout=30)
    head = requests.head(server["endpoint"], params=params, timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert requests.head(server["endpoint"], timeout=30).status_code == 200  # the description


def test_request_bodies_must_be_utf8(server):
    form = requests.post(server["endpoint"], data="query=ASK {}".encode("utf-16"), timeout=30,
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded; charset=UTF-16"})
    assert form.status_code == 400 and "UTF-8" in form.text
    direct = requests.post(server["endpoint"], data=b"ASK { ?s ?p \"\xe9\" }", timeout=30,
                           headers={"Content-Type": "application/sparql-query"})
    assert direct.status_code == 400 and "UTF-8" in direct.text


def test_put_on_the_query_endpoint_is_refused(server):
    answer = requests.put(server["endpoint"], data=b"ASK {}", timeout=30,
                          headers={"Content-Type": "application/sparql-query"})
    assert answer.status_code == 405


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("accept", "params", "status"), [
    (BROWSER, {}, 303),  # a person opening the endpoint's address: the query editor
    (BROWSER, {"query": "ASK {}"}, 303),  # a query link: the editor, the query in a tab
    ("text/html", {"query": "ASK {}"}, 303),
    (BROWSER, {"query": "ASK {}", "format": "json"}, 200),  # a format asked for by name wins
    ("text/html;q=0.5, application/sparql-results+json", {"query": "ASK {}"}, 200),
    ("*/*", {"query": "ASK {}"}, 200),  # clients that take anything get results
    ("text/html, application/sparql-results+json", {"query": "ASK {}"}, 200),  # a tie too
])
def test_browsers_are_sent_to_the_query_page_and_clients_get_answers(server, accept, params,
                                                                    status):
    answer = requests.get(server["endpoint"], params=params, headers={"Accept": accept},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == status, answer.text
    if status == 303:
        target = answer.headers["Location"]
        assert target.split("?")[0].endswith("/query") and answer.headers["Vary"] == "Accept"
        assert ("query=ASK" in target) == ("query" in params)
