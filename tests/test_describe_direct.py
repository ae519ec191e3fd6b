"""Direct answers (web/describe_direct.py) are the application's answers: for each request the
front door with them and the front door without them (Flask answering) send the same status,
the same headers in the same order and the same body, on a real store; the plain shapes are
answered directly, anything unusual goes to Flask."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from servers import EXAMPLES, cli
from werkzeug.test import EnvironBuilder

from fairtracks_ld.web.app import create_app
from fairtracks_ld.web.front import FrontDoor
from fairtracks_ld.web.settings import Settings

BASE = "http://127.0.0.1:8000/"
TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"
COLLECTION = "collection/encode_example"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def doors(tmp_path_factory):
    """(direct, flask) front doors of one application per cache setting, on one store."""
    store = tmp_path_factory.mktemp("direct") / "store"
    cli(store, BASE, "load", "--allow-invalid", *EXAMPLES)
    made = {}
    for cache in (False, True):
        app = create_app(Settings(store=store, query_workers=1, cache=cache))
        made[cache] = (FrontDoor(app), FrontDoor(app, direct=False))
    yield made
    for direct, _ in made.values():
        direct.app.extensions["executor"].close()


def call(door: FrontDoor, method: str, path: str, query_string: str = "", body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
    environ = EnvironBuilder(path=path, method=method, query_string=query_string, data=body,
                             headers=headers or {}, base_url=BASE.rstrip("/"),
                             content_type=FORM if body else None).get_environ()
    sent: list = []
    answer = door(environ, lambda status, headers, exc_info=None: sent.append((status, headers)))
    return sent[0][0], list(sent[0][1]), b"".join(answer)


def taken(door: FrontDoor, method: str, path: str, query_string: str = "", body: bytes = b"",
          headers: dict[str, str] | None = None) -> bool:
    """Whether the direct answers take the request."""
    environ = EnvironBuilder(path=path, method=method, query_string=query_string, data=body,
                             headers=headers or {}, base_url=BASE.rstrip("/"),
                             content_type=FORM if body else None).get_environ()
    environ["RAW_URI"] = environ["PATH_INFO"]
    return door.direct.answer(environ, body if method == "POST" else None) is not None


def same(doors, *request, direct_taken: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    direct, flask = doors[False]
    assert taken(direct, *request) is direct_taken
    ours, theirs = call(direct, *request), call(flask, *request)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    assert ours[2] == theirs[2]
    return ours


def describe(iri: str) -> str:
    return f"DESCRIBE <{iri}>"


RDF = ["text/turtle", "application/n-triples", "application/rdf+xml", "application/n-quads",
       "application/trig", "text/turtle;q=0.9, application/n-triples",
       "text/turtle, text/html;q=0.5", "*/*;q=0.1, application/n-triples"]


@pytest.mark.parametrize("accept", RDF)
@pytest.mark.parametrize("path", [TRACK, COLLECTION])
def test_a_dereference_as_rdf_is_answered_directly_as_flask_answers(doors, path, accept):
    status, headers, body = same(doors, "GET", "/" + path, "", b"", {"Accept": accept},
                                 direct_taken=True)
    assert status == "200 OK" and body
    assert dict(headers)["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("accept", RDF)
@pytest.mark.parametrize("path", ["graph/closure", "graph/catalog"])
def test_a_graph_the_catalog_describes_is_answered_as_flask_answers(doors, path, accept):
    """A graph's description comes from the catalog (resources.catalog_entry: triples, not the
    quads a resource's description is read as)."""
    direct, flask = doors[False]
    request_ = ("GET", "/" + path, "", b"", {"Accept": accept})
    ours = call(direct, *request_)
    assert ours == call(flask, *request_)
    if path == "graph/closure":
        assert taken(direct, *request_) and ours[0] == "200 OK" and ours[2]


@pytest.mark.parametrize("request_", [
    ("GET", "/" + TRACK, "", b"", {"Accept": "text/html"}),
    ("GET", "/" + TRACK, "", b"", {"Accept": "application/ld+json"}),
    ("GET", "/" + TRACK, "", b"", {}),  # no Accept: HTML
    ("GET", "/" + TRACK, "", b"", {"Accept": "image/png"}),  # 406
    ("GET", "/" + TRACK + ".ttl", "", b"", {"Accept": "text/turtle"}),  # suffix
    ("GET", "/" + TRACK, "format=nt", b"", {"Accept": "text/turtle"}),
    ("GET", "/collection/encode_example/track/encode:NOSUCH", "", b"", {"Accept": "text/turtle"}),
    ("GET", "/collection//encode_example", "", b"", {"Accept": "text/turtle"}),
    ("HEAD", "/" + TRACK, "", b"", {"Accept": "text/turtle"}),
    ("GET", "/" + TRACK, "", b"", {"Accept": "text/turtle", "If-None-Match": '"x"'}),
])
def test_other_dereferences_go_to_flask(doors, request_):
    same(doors, *request_, direct_taken=False)


@pytest.mark.parametrize("accept", [*RDF, "application/ld+json", "application/json", "*/*", ""])
@pytest.mark.parametrize("iris", [[BASE + TRACK], [BASE + COLLECTION, BASE + TRACK],
                                  [BASE + "collection/no/such"],
                                  [BASE + "collection/caf\u00e9%41+x", "urn:load:service%2F"]])
@pytest.mark.parametrize("prologue", ["", "PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"
                                      "PREFIX : <http://y/>\r\n\tPREFIX obo: <http://x/>  "])
def test_a_plain_describe_is_answered_directly_as_flask_answers(doors, iris, accept, prologue):
    query = prologue + "DESCRIBE " + " ".join(f"<{iri}>" for iri in iris)
    headers = {"Accept": accept} if accept else {}
    post = same(doors, "POST", "/sparql", "", urlencode({"query": query}).encode(), headers,
                direct_taken=True)
    get = same(doors, "GET", "/sparql", urlencode({"query": query}), b"", headers,
               direct_taken=True)
    assert post[0] == get[0] == "200 OK"


SELECT = "SELECT ?p ?o WHERE { <" + BASE + TRACK + "> ?p ?o } ORDER BY ?p ?o"


@pytest.mark.parametrize("query,accept", [
    (f"BASE <{BASE}>\n{describe(BASE + TRACK)}", "text/turtle"),
    (f"PREFIX ft: <{BASE}>\ndescribe <{BASE + TRACK}>", "text/turtle"),
    (f"PREFIX ft: <{BASE}> DESCRIBE ft:{TRACK}", "text/turtle"),
    (f"PREFIX rel: <relative/> {describe(BASE + TRACK)}", "text/turtle"),  # a relative PREFIX
    (describe(TRACK), "text/turtle"),  # relative IRI
    ("describe <" + BASE + TRACK + ">", "text/turtle"),
    (describe(BASE + "rand/service"), "text/turtle"),
    (describe(BASE + TRACK), "application/sparql-results+json"),  # 406 after it ran
    (SELECT, "application/sparql-results+json"),
    (SELECT, "text/csv"),
    (SELECT, "application/sparql-results+xml, */*;q=0.1"),
    (SELECT, "text/turtle"),  # 406 after it ran
    (SELECT, ""),
    ("SELECT * { ?s ?p ?o } LIMIT 1", "text/turtle"),
    ("SELECT ?t WHERE { ?t ft:label_short \"no such label\" }", "application/json"),
    ("ASK { ?s ?p ?o }", "application/sparql-results+json"),
    (f"CONSTRUCT WHERE {{ <{BASE + TRACK}> ?p ?o }}", "application/n-triples"),
    ("SELECT ?t { ?t ft:cell_type_ancestor ?c } LIMIT 3", "text/csv"),  # rewritten
    ("SELECT (COUNT(*) AS ?n) { ?s ?p ?o . FILTER(RAND() < 2) }", "text/csv"),  # not repeatable
    ("SELECT * WHERE { ?s ?p", "application/sparql-results+json"),  # 400, plain text
    ("SELECT * WHERE { ?s ?p", "application/json"),  # 400, JSON
])
def test_a_plain_query_is_answered_directly_as_flask_answers(doors, query, accept):
    headers = {"Accept": accept} if accept else {}
    post = same(doors, "POST", "/sparql", "", urlencode({"query": query}).encode(), headers,
                direct_taken=True)
    get = same(doors, "GET", "/sparql", urlencode({"query": query}), b"", headers,
               direct_taken=True)
    assert post[0] == get[0]


@pytest.mark.parametrize("query_string,body,accept", [
    ("", urlencode({"query": describe(BASE + TRACK), "format": "nt"}), "text/turtle"),
    ("", urlencode({"query": describe(BASE + TRACK),
                    "default-graph-uri": BASE + COLLECTION}), "text/turtle"),
    ("format=nt", urlencode({"query": describe(BASE + TRACK)}), "text/turtle"),
    ("", urlencode({"query": SELECT}), "image/png"),  # no result format accepted: 406
    ("", urlencode({"query": "SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"}),
     "application/json"),  # refused by the SERVICE policy: 403
    ("", urlencode({"update": "INSERT DATA { <x:a> <x:b> <x:c> }"}), "text/plain"),
    ("", "query=", "text/turtle"),
])
def test_other_queries_go_to_flask(doors, query_string, body, accept):
    same(doors, "POST", "/sparql", query_string, body.encode(), {"Accept": accept},
         direct_taken=False)


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_a_browser_asking_for_a_describe_gets_the_query_page_from_flask(doors, accept):
    status, _, _ = same(doors, "GET", "/sparql", urlencode({"query": describe(BASE + TRACK)}),
                        b"", {"Accept": accept}, direct_taken=False)
    assert status.startswith("303")


def test_with_the_cache_on_a_direct_answer_is_flasks_then_replayed_as_a_hit(doors):
    direct, _ = doors[True]
    _, cold_flask = doors[False]
    for request_ in [("GET", "/" + TRACK, "", b"", {"Accept": "text/turtle"}),
                     ("POST", "/sparql", "", urlencode({"query": describe(BASE + TRACK)}).encode(),
                      {"Accept": "text/turtle"})]:
        first, again, flask = call(direct, *request_), call(direct, *request_), \
            call(cold_flask, *request_)
        assert first == flask  # X-Cache: miss in both
        assert again[0] == first[0] and again[2] == first[2]
        assert again[1] == [(n, "hit" if n == "X-Cache" else v) for n, v in first[1]]


def test_with_the_cache_on_a_direct_select_is_replayed_but_a_random_one_never(doors):
    direct, _ = doors[True]
    repeated = ("POST", "/sparql", "", urlencode({"query": SELECT}).encode(),
                {"Accept": "text/csv"})
    first, again = call(direct, *repeated), call(direct, *repeated)
    assert dict(first[1])["X-Cache"] == "miss" and dict(again[1])["X-Cache"] == "hit"
    assert again[2] == first[2]
    random = ("POST", "/sparql", "", urlencode({"query": "SELECT (RAND() AS ?r) {}"}).encode(),
              {"Accept": "text/csv"})
    answers = {call(direct, *random)[2] for _ in range(3)}
    assert len(answers) == 3  # evaluated every time
    assert all("X-Cache" not in dict(call(direct, *random)[1]) for _ in range(2))
