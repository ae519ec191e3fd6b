"""The linked-data server as a real server process on loopback, used by real HTTP clients."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests
from conftest import write_json
from rdflib import BNode, Dataset, Graph, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from servers import EXAMPLES, cli, free_port, hostile_document, serve
from SPARQLWrapper import JSON, SPARQLWrapper

TOKEN = "test-admin-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory, examples, session_gate):
    """A served store: the two example versions plus a hostile-label document; SERVICE may
    call the gate of service_gate."""
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", "--allow-invalid", *EXAMPLES,
        str(write_json(folder / "hostile.json", hostile_document(examples))))
    env = {"FAIRTRACKS_LD_ADMIN_TOKEN": TOKEN, "FAIRTRACKS_LD_MAX_RESULT_BYTES": "2000000"}
    with serve(store, port, "--query-timeout", "3", "--access-log", str(folder / "access.log"),
               "--allow-service", session_gate.endpoint, env=env) as base:
        yield {"base": base, "store": store, "folder": folder}


TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"


def test_a_token_given_by_environment_leaves_the_server_processes_environment(server):
    """granian puts a worker's whole environment into every request's environ (and workers
    started later inherit it): the server's entry point keeps the token in its settings and
    removes it from the environment before serving."""
    code = ("import os, fairtracks_ld.web.wsgi as entry; "
            "print(entry.settings.admin_token, 'FAIRTRACKS_LD_ADMIN_TOKEN' in os.environ)")
    env = {**os.environ, "FAIRTRACKS_LD_ADMIN_TOKEN": "s3cret",
           "FAIRTRACKS_LD_STORE": str(server["store"])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["s3cret", "False"]


@pytest.mark.parametrize(("accept", "media", "rdflib_format"), [
    ("text/turtle", "text/turtle", "turtle"),
    ("application/n-triples", "application/n-triples", "nt"),
    ("application/rdf+xml", "application/rdf+xml", "xml"),
    ("application/ld+json", "application/ld+json", "json-ld"),
])
def test_a_track_dereferences_in_every_rdf_syntax(server, accept, media, rdflib_format):
    url = server["base"] + TRACK
    response = requests.get(url, headers={"Accept": accept}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(media)
    assert response.headers["Vary"] == "Accept"
    graph = Graph().parse(data=response.text, format=rdflib_format, publicID=url)
    assert (URIRef(url), None, None) in graph
    assert len(graph) > 20


def test_requests_are_logged_where_asked(server):
    requests.get(server["base"] + TRACK + "?format=ttl", timeout=30)
    log = server["folder"] / "access.log"
    deadline = time.time() + 60  # the line is written after answering (a hang guard)
    while f"GET /{TRACK}" not in (log.read_text() if log.exists() else ""):
        assert time.time() < deadline, "the request was not logged"
        time.sleep(0.1)


def test_json_ld_reads_like_fairtracks_json(server):
    response = requests.get(server["base"] + TRACK, headers={"Accept": "application/ld+json"},
                            timeout=30)
    body = response.json()
    assert body["@context"] == server["base"] + "context.jsonld"
    assert body["label_short"] == "H3K4me3 B cell peaks r1"
    assert body["file_format"]["term_id"] == "http://edamontology.org/format_3613"


def test_n_quads_and_q_values_and_suffixes(server):
    url = server["base"] + TRACK
    weighted = requests.get(url, headers={
        "Accept": "text/turtle;q=0.4, application/n-triples;q=0.9, text/html;q=0.1"}, timeout=30)
    assert weighted.headers["Content-Type"].startswith("application/n-triples")
    assert requests.get(url + ".ttl", timeout=30).headers["Content-Type"].startswith("text/turtle")
    assert requests.get(url + ".nq", timeout=30).headers["Content-Type"].startswith(
        "application/n-quads")
    by_param = requests.get(url, params={"format": "jsonld"}, timeout=30)
    assert by_param.headers["Content-Type"].startswith("application/ld+json")
    browser = requests.get(url, headers={"Accept": "text/html,*/*;q=0.8"}, timeout=30)
    assert browser.headers["Content-Type"].startswith("text/html")


def test_document_and_version_graph_iris_dereference(server):
    versions = sparql(server, params={"query": "SELECT ?g WHERE { GRAPH ?c { ?d "
                                      "ft:current_version ?g } }"})
    graph_iri = versions.json()["results"]["bindings"][0]["g"]["value"]
    described = requests.get(graph_iri, headers={"Accept": "text/turtle"}, timeout=30)
    assert described.status_code == 200
    graph = Graph().parse(data=described.text, format="turtle")
    assert (URIRef(graph_iri), URIRef("http://purl.org/dc/terms/isVersionOf"), None) in graph
    document = requests.get(server["base"] + "collection/encode_example/document/0",
                            headers={"Accept": "text/turtle"}, timeout=30)
    assert document.status_code == 200


def test_etag_gives_304_and_unknown_iris_404_and_bad_types_406(server):
    url = server["base"] + TRACK
    first = requests.get(url, headers={"Accept": "text/turtle"}, timeout=30)
    again = requests.get(url, headers={"Accept": "text/turtle",
                                       "If-None-Match": first.headers["ETag"]}, timeout=30)
    assert again.status_code == 304
    assert requests.get(server["base"] + "collection/encode_example/track/nope",
                        timeout=30).status_code == 404
    assert requests.get(url, headers={"Accept": "image/png"}, timeout=30).status_code == 406


def test_html_pages_show_labels_links_and_escape_literals(server):
    sample = requests.get(server["base"] + "collection/encode_example/sample/encode:ENCBS192PUU",
                          headers={"Accept": "text/html"}, timeout=30).text
    assert "Linked from" in sample and "experiment/encode:ENCSR000DQP" in sample
    track = requests.get(server["base"] + TRACK, headers={"Accept": "text/html"}, timeout=30)
    assert "https://www.encodeproject.org/files/ENCFF625ZYB" in track.text  # download link
    assert "0ab98dbd2a2193ab3e09df030ea4f934" in track.text  # checksum
    assert "https://identifiers.org/refseq.gcf:GCF_000001405.26" in track.text  # CURIE link
    hostile = requests.get(server["base"] + "collection/hostile/track/encode:ENCFF625ZYB",
                           headers={"Accept": "text/html"}, timeout=30).text
    assert "<script>alert" not in hostile and "&lt;script&gt;" in hostile


def sparql(server, **kwargs) -> requests.Response:
    return requests.request(kwargs.pop("method", "GET"), server["base"] + "sparql",
                            timeout=30, **kwargs)


COUNT = "SELECT (COUNT(?t) AS ?n) WHERE { ?t a ft:Track }"


def test_sparql_protocol_get_post_form_and_direct(server):
    get = sparql(server, params={"query": COUNT})
    form = sparql(server, method="POST", data={"query": COUNT})
    direct = sparql(server, method="POST", data=COUNT,
                    headers={"Content-Type": "application/sparql-query"})
    for response in (get, form, direct):
        assert response.status_code == 200
        assert response.json()["results"]["bindings"][0]["n"]["value"] == "12"  # 8 + 4
    assert get.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(("accept", "check"), [
    ("application/sparql-results+xml", lambda t: "<sparql" in t),
    ("text/csv", lambda t: t.startswith("n\r\n12")),
    ("text/tab-separated-values", lambda t: t.startswith("?n\n12")),
])
def test_sparql_result_formats(server, accept, check):
    response = sparql(server, params={"query": COUNT}, headers={"Accept": accept})
    assert response.headers["Content-Type"].startswith(accept) and check(response.text)


def test_default_and_named_graph_parameters(server):
    versions = sparql(server, params={"query": "SELECT ?g WHERE { GRAPH ?c { ?d "
                                      "ft:current_version ?x . ?g ft:doc_version ?v } }"})
    graphs = {b["g"]["value"] for b in versions.json()["results"]["bindings"]}
    old = next(g for g in graphs if "9e9fa2d4" in g)
    response = sparql(server, params={"query": COUNT, "default-graph-uri": old})
    assert response.json()["results"]["bindings"][0]["n"]["value"] == "4"
    named = sparql(server, params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
                                   "named-graph-uri": old})
    assert {b["g"]["value"] for b in named.json()["results"]["bindings"]} == {old}
    own = COUNT.replace("WHERE", f"FROM <{old}> WHERE")  # the query's own dataset
    response = sparql(server, params={"query": own})
    assert response.json()["results"]["bindings"][0]["n"]["value"] == "4"
    overridden = sparql(server, params={"query": own, "default-graph-uri": old + "-none"})
    assert overridden.json()["results"]["bindings"][0]["n"]["value"] == "0"  # protocol wins


@pytest.mark.parametrize(("accept", "fmt"), [("text/turtle", "turtle"),
                                             ("application/n-triples", "nt"),
                                             ("application/ld+json", "json-ld"),
                                             ("application/rdf+xml", "xml")])
def test_graph_results_in_every_syntax(server, accept, fmt):
    response = sparql(server, params={"query": "CONSTRUCT WHERE { ?t a ft:Track ; ?p ?o }"},
                      headers={"Accept": accept})
    assert response.status_code == 200
    assert len(Graph().parse(data=response.text, format=fmt)) > 100


def test_describe_of_iris_answers_what_dereferencing_gives(server):
    url = server["base"] + TRACK
    described = sparql(server, params={"query": f"DESCRIBE <{url}>"},
                       headers={"Accept": "application/n-triples"})
    assert described.status_code == 200
    graph = Graph().parse(data=described.text, format="nt")
    dereferenced = Graph().parse(data=requests.get(url + ".nt", timeout=30).text, format="nt")
    about = {t for t in dereferenced if t[0] == URIRef(url) and not isinstance(t[2], BNode)}
    assert len(about) > 15 and about <= set(graph)  # ancestor links sit on its sample
    several = sparql(server, params={"query": f"PREFIX t: <{server['base']}collection/"
                                              f"encode_example/track/>\n# two tracks\n"
                                              f"DESCRIBE <{url}> <{url}-none>"})
    assert len(Graph().parse(data=several.text, format="turtle")) == len(graph)
    undefined = sparql(server, params={"query": "DESCRIBE nope:x"})
    assert undefined.status_code == 400 and "syntax error" in undefined.text


def test_service_description_and_errors(server):
    description = sparql(server, headers={"Accept": "text/turtle"})
    graph = Graph().parse(data=description.text, format="turtle")
    sd = "http://www.w3.org/ns/sparql-service-description#"
    assert (None, URIRef(sd + "endpoint"), URIRef(server["base"] + "sparql")) in graph
    bad = sparql(server, params={"query": "SELECT * WHERE { ?s ?p }"})
    assert bad.status_code == 400 and "syntax error" in bad.text
    outside = sparql(server, params={"query": "SELECT * { SERVICE <http://example.org/sparql> "
                                              "{ ?s ?p ?o } }"})
    assert outside.status_code == 403


def test_real_sparql_clients(server):
    wrapper = SPARQLWrapper(server["base"] + "sparql")
    wrapper.setQuery("PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#> " + COUNT)
    wrapper.setReturnFormat(JSON)
    assert wrapper.query().convert()["results"]["bindings"][0]["n"]["value"] == "12"
    store = SPARQLStore(server["base"] + "sparql", returnFormat="json")
    rows = list(store.query("SELECT ?l WHERE { ?t <https://w3id.org/fairtracks-ld/vocab#"
                            "label_short> ?l } ORDER BY ?l LIMIT 2"))
    assert len(rows) == 2


def test_heavy_queries_time_out_while_others_are_served(server, gate):
    """A query held at the gate (service_gate) never ends by itself: the 3 s limit stops it and
    says so, and other queries are answered meanwhile and after. (That a query is not queued
    behind a busy worker is proven in test_scheduling, whose only worker is held with no time
    limit racing the test.)"""
    outcome = {}

    def run_heavy() -> None:
        outcome["response"] = sparql(server, params={"query": gate.query("heavy")})

    thread = threading.Thread(target=run_heavy)
    thread.start()
    gate.wait_for(1)  # running in a query worker, and held
    quick = sparql(server, params={"query": "ASK { ?s ?p ?o }"})
    assert quick.status_code == 200 and quick.json()["boolean"] is True
    thread.join(60)
    stopped = outcome["response"]
    assert stopped.status_code == 503, stopped.text  # never released: the limit ended it
    assert "limit of 3 s" in stopped.text and "was stopped" in stopped.text
    after = sparql(server, params={"query": COUNT})
    assert after.status_code == 200 and after.json()["results"]["bindings"]


def test_oversized_results_are_refused(server):
    query = "SELECT * WHERE { ?s ?p ?o . ?a ?b ?c } LIMIT 100000"  # ~30 MB of JSON
    response = sparql(server, params={"query": query})
    assert response.status_code == 413 and "larger than" in response.text


def test_updates_need_the_admin_token(server):
    update = "INSERT DATA { <http://example.org/a> <http://example.org/b> 'c' }"
    assert sparql(server, method="POST", data={"update": update}).status_code == 401
    done = sparql(server, method="POST", data={"update": update},
                  headers={"Authorization": f"Bearer {TOKEN}"})
    assert done.status_code == 204
    ask = sparql(server, params={"query": "ASK { <http://example.org/a> ?p ?o }"})
    assert ask.json()["boolean"] is True


def test_a_load_while_serving_becomes_visible_without_restart(server, generated):
    path = write_json(server["folder"] / "more.json", generated[0])
    cli(server["store"], server["base"], "load", str(path))
    response = sparql(server, params={"query": COUNT})
    expected = 12 + len(generated[0]["tracks"])
    assert response.json()["results"]["bindings"][0]["n"]["value"] == str(expected)


def test_the_vocabulary_dereferences_with_an_anchor_per_term(server):
    from fairtracks_ld.mapping.namespaces import FT

    url = server["base"] + "vocab"
    turtle = requests.get(url, headers={"Accept": "text/turtle"}, timeout=30)
    assert turtle.headers["Content-Type"].startswith("text/turtle")
    assert "Accept" in turtle.headers["Vary"]
    terms = {str(s)[len(FT):] for s in Graph().parse(data=turtle.text, format="turtle").subjects()
             if str(s).startswith(FT)}
    assert {"file_url", "Track", "cell_type_ancestor", "conforms"} <= terms
    page = requests.get(url, headers={"Accept": "text/html"}, timeout=30)
    assert page.headers["Content-Type"].startswith("text/html")
    assert all(f'id="{term}"' in page.text for term in terms)
    jsonld = requests.get(url + ".jsonld", timeout=30)
    assert len(Graph().parse(data=jsonld.text, format="json-ld")) == len(
        Graph().parse(data=turtle.text, format="turtle"))
    assert requests.get(url, headers={"Accept": "application/pdf"}, timeout=30).status_code == 406
    again = requests.get(url, headers={"Accept": "text/turtle",
                                       "If-None-Match": turtle.headers["ETag"]}, timeout=30)
    assert again.status_code == 304
    ext = requests.get(server["base"] + "ext", timeout=30)
    assert ext.status_code == 200 and "https://w3id.org/fairtracks-ld/ext#" in ext.text


def test_void_description_and_dumps(server):
    void = requests.get(server["base"] + ".well-known/void", timeout=30)
    graph = Graph().parse(data=void.text, format="turtle")
    vd = "http://rdfs.org/ns/void#"
    for predicate in ("sparqlEndpoint", "dataDump", "uriSpace", "triples", "entities",
                      "classes", "properties", "vocabulary"):
        assert (None, URIRef(vd + predicate), None) in graph, predicate
    dump = requests.get(server["base"] + "dumps/all.nq.gz", timeout=60)
    dataset = Dataset()
    dataset.parse(data=gzip.decompress(dump.content), format="nquads")
    assert len(dataset) > 500
    one = requests.get(server["base"] + "dumps/collection/encode_example.nq.gz", timeout=60)
    assert one.status_code == 200 and b"ENCFF625ZYB" in gzip.decompress(one.content)
    assert "void-link" in requests.get(server["base"], timeout=30).text
    vocab = requests.get(server["base"] + "vocab", timeout=30)
    assert "ft:file_url_iri" in vocab.text
    context = json.loads(requests.get(server["base"] + "context.jsonld", timeout=30).text)
    assert "@context" in context
