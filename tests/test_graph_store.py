"""The SPARQL 1.1 Graph Store HTTP Protocol at /rdf-graph-store, against a live server.

The status codes follow the spec's examples (section 5): 201 Created for a graph a PUT or POST
creates, 204 for a replace, merge or delete, 404 for a missing graph, 400 for RDF that does not
parse, 415 for a content type the store cannot read; plus this server's own rules: writes need the
admin token, managed graphs (document versions, their validation reports and any name under them,
the catalog, the closure, the default view) are refused, and a busy writer answers 503 with
Retry-After.
"""

from __future__ import annotations

import gc

import pytest
import requests
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from servers import EXAMPLES, cli, free_port, serve

from fairtracks_ld.store import TrackStore

TOKEN = "graph-store-token"
LIMIT = 1_000_000  # bytes of one answer
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRAPH = "https://example.org/graphs/notes"
TURTLE = """@prefix ex: <https://example.org/ns#> .
ex:track ex:note "first note" ; ex:seeAlso <relative> .
ex:track ex:tag [ ex:label "blank" ] .
"""
FORMATS = {"text/turtle": "turtle", "application/n-triples": "nt",
           "application/n-quads": "nquads", "application/trig": "trig",
           "application/rdf+xml": "xml", "application/ld+json": "json-ld"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graph-store")
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", "--allow-invalid", *EXAMPLES)
    env = {"FAIRTRACKS_LD_ADMIN_TOKEN": TOKEN, "FAIRTRACKS_LD_MAX_RESULT_BYTES": str(LIMIT)}
    with serve(store, port, env=env) as base:
        yield {"base": base, "url": base + "rdf-graph-store", "store": store}


def _graph_url(server, graph: str = GRAPH) -> str:
    return requests.Request("GET", server["url"], params={"graph": graph}).prepare().url


def _put(server, body: str, graph: str = GRAPH, media: str = "text/turtle",
         method: str = "PUT", headers: dict | None = None) -> requests.Response:
    return requests.request(method, _graph_url(server, graph), data=body.encode(), timeout=60,
                            headers={"Content-Type": media, **AUTH, **(headers or {})})


def _ask(server, query: str) -> bool:
    answer = requests.get(server["base"] + "sparql", params={"query": query}, timeout=60,
                          headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200, answer.text
    return answer.json()["boolean"]


def _version_graph(server) -> str:
    answer = requests.get(server["base"] + "sparql", timeout=60, params={
        "query": "SELECT ?g WHERE { GRAPH ?c { ?g a ft:DocumentVersion } } LIMIT 1"},
        headers={"Accept": "application/sparql-results+json"})
    return answer.json()["results"]["bindings"][0]["g"]["value"]


def test_put_creates_then_replaces_and_every_syntax_reads_it_back(server):
    requests.delete(_graph_url(server), headers=AUTH, timeout=60)
    created = _put(server, TURTLE)
    assert created.status_code == 201, created.text
    expected = Graph().parse(data=TURTLE, format="turtle", publicID=GRAPH)
    assert (URIRef("https://example.org/ns#track"), None,
            URIRef("https://example.org/graphs/relative")) in expected
    for media, rdflib_format in FORMATS.items():
        answer = requests.get(_graph_url(server), headers={"Accept": media}, timeout=60)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith(media)
        read = Graph().parse(data=answer.content, format=rdflib_format)
        assert isomorphic(read, expected), media
    replaced = _put(server, '<https://example.org/a> <https://example.org/b> "only" .',
                    media="application/n-triples")
    assert replaced.status_code == 204
    read = Graph().parse(data=requests.get(_graph_url(server), timeout=60,
                                           headers={"Accept": "application/n-triples"}).text,
                         format="nt")
    assert len(read) == 1


def test_post_merges_and_creates(server):
    other = GRAPH + "/merged"
    assert _put(server, "<https://example.org/a> <https://example.org/b> 1 .",
                graph=other, method="POST").status_code == 201
    assert _put(server, "<https://example.org/a> <https://example.org/b> 2 .",
                graph=other, method="POST").status_code == 204
    answer = requests.get(_graph_url(server, other), timeout=60,
                          headers={"Accept": "application/n-triples"})
    assert len(Graph().parse(data=answer.text, format="nt")) == 2


def test_post_to_the_store_creates_a_graph_and_says_where(server):
    created = requests.post(server["url"], data=TURTLE.encode(), timeout=60,
                            headers={"Content-Type": "text/turtle", **AUTH})
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.startswith(server["url"] + "?graph=")
    read = requests.get(location, headers={"Accept": "text/turtle"}, timeout=60)
    assert read.status_code == 200
    assert len(Graph().parse(data=read.text, format="turtle")) == 4


def test_a_graph_larger_than_the_answer_limit_is_413(server):
    big = GRAPH + "/big"
    lines = "".join(f'<https://example.org/s{i}> <https://example.org/p> "{i:040d}" .\n'
                    for i in range(LIMIT // 60))
    assert _put(server, lines, graph=big, media="application/n-triples").status_code == 201
    answer = requests.get(_graph_url(server, big), timeout=60,
                          headers={"Accept": "application/n-triples"})
    assert answer.status_code == 413 and "dumps" in answer.text
    requests.delete(_graph_url(server, big), headers=AUTH, timeout=60)


def test_head_answers_like_get_without_a_body(server):
    _put(server, TURTLE)
    head = requests.head(_graph_url(server), headers={"Accept": "application/ld+json"},
                         timeout=60)
    assert head.status_code == 200
    assert head.headers["Content-Type"].startswith("application/ld+json")
    assert head.content == b""
    assert requests.head(server["url"] + "?default", timeout=60).status_code == 200


def test_delete_then_missing_graphs_are_404(server):
    _put(server, TURTLE)
    assert requests.delete(_graph_url(server), headers=AUTH, timeout=60).status_code == 204
    assert requests.get(_graph_url(server), timeout=60).status_code == 404
    assert requests.delete(_graph_url(server), headers=AUTH, timeout=60).status_code == 404
    assert not _ask(server, f"ASK {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}")


def test_writes_are_visible_to_sparql_and_recorded_in_the_catalog(server):
    _put(server, TURTLE)
    assert _ask(server, f'ASK {{ GRAPH <{GRAPH}> {{ ?s ?p "first note" }} }}')
    assert _ask(server, f"ASK {{ GRAPH ?c {{ <{GRAPH}> a ft:GraphStoreGraph ; "
                        "dcterms:modified ?when } }")
    # a named graph written here is not part of the default view
    assert not _ask(server, 'ASK { ?s ?p "first note" }')
    requests.delete(_graph_url(server), headers=AUTH, timeout=60)
    assert not _ask(server, f"ASK {{ GRAPH ?c {{ <{GRAPH}> a ft:GraphStoreGraph }} }}")


def test_the_default_view_and_version_graphs_read_in_every_syntax(server):
    version = _version_graph(server)
    for media, rdflib_format in FORMATS.items():
        view = requests.get(server["url"] + "?default", headers={"Accept": media}, timeout=60)
        assert view.status_code == 200
        assert len(Graph().parse(data=view.content, format=rdflib_format)) > 100
    graph = requests.get(_graph_url(server, version), timeout=60,
                         headers={"Accept": "text/turtle"})
    assert graph.status_code == 200
    assert len(Graph().parse(data=graph.text, format="turtle")) > 20


def test_writes_need_the_token(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = requests.put(_graph_url(server), data=TURTLE.encode(), timeout=60,
                              headers={"Content-Type": "text/turtle", **headers})
        assert answer.status_code == 401
    assert requests.delete(_graph_url(server), timeout=60).status_code == 401


def test_unparsable_rdf_is_400_with_the_parser_message_and_changes_nothing(server):
    _put(server, TURTLE)
    broken = _put(server, "<https://example.org/a> <https://example.org/b> .")
    assert broken.status_code == 400
    assert "line 1" in broken.text
    assert _ask(server, f'ASK {{ GRAPH <{GRAPH}> {{ ?s ?p "first note" }} }}')


def test_an_empty_put_makes_an_empty_graph_and_quads_must_stay_in_it(server):
    empty = GRAPH + "/empty"
    assert _put(server, "", graph=empty).status_code == 201
    answer = requests.get(_graph_url(server, empty), timeout=60,
                          headers={"Accept": "application/n-triples"})
    assert answer.status_code == 200 and answer.text.strip() == ""
    other_graph = _put(server, "<https://example.org/g> { <https://example.org/a> "
                               "<https://example.org/b> 1 }", graph=empty, media="application/trig")
    assert other_graph.status_code == 400 and "Named graphs" in other_graph.text


def test_unknown_content_types_are_415_and_unacceptable_accept_406(server):
    assert _put(server, TURTLE, media="text/x-unknown").status_code == 415
    answer = requests.get(server["url"] + "?default", headers={"Accept": "image/png"},
                          timeout=60)
    assert answer.status_code == 406 and answer.headers["Vary"] == "Accept"


def test_graphs_the_tool_manages_are_refused_with_a_reason(server):
    version = _version_graph(server)
    closure = server["base"] + "graph/closure"
    # a name in the store's scheme for versions (staging, an earlier layout's companion, which
    # doctor --repair drops, any `…/version/…`): a graph written there would be swept or dropped
    for graph in (version, version + "/validation-report", version + "/inferred",
                  version + "/notes", version + "#notes",
                  server["base"] + "collection/x/document/y/version/z", closure):
        answer = _put(server, TURTLE, graph=graph)
        assert answer.status_code == 403, graph
        assert "load a document" in answer.text
        assert requests.delete(_graph_url(server, graph), headers=AUTH,
                               timeout=60).status_code == 403
    catalog = server["base"] + "graph/catalog"
    assert _put(server, TURTLE, graph=catalog).status_code == 403
    default = requests.put(server["url"] + "?default", data=TURTLE.encode(), timeout=60,
                           headers={"Content-Type": "text/turtle", **AUTH})
    assert default.status_code == 403
    assert "load a document" in default.text


def test_requests_must_name_one_graph(server):
    assert requests.get(server["url"], timeout=60).status_code == 400
    assert requests.get(server["url"] + "?default&graph=https://example.org/g",
                        timeout=60).status_code == 400
    assert requests.get(server["url"] + "?graph=not-an-iri", timeout=60).status_code == 400


def test_a_busy_writer_is_503_with_retry_after(server):
    holder = TrackStore(server["store"])  # this process holds the writer's lock
    try:
        answer = _put(server, TURTLE)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
    finally:
        del holder
        gc.collect()
    assert _put(server, TURTLE).status_code in (201, 204)


def test_the_service_description_names_the_graph_store(server):
    description = requests.get(server["base"] + "sparql", timeout=60,
                               headers={"Accept": "text/turtle"}).text
    assert server["url"] in description
