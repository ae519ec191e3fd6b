"""The W3C SPARQL 1.1 Protocol test suite (tests/w3c/sparql11-protocol/) against one live server.

The manifest encodes each test as HTTP requests (`ht:requests`: method, path, headers, body in a
named character encoding) with the expected status class, result format and ASK answer; this
runner sends exactly those requests, in order, with the path's `/sparql/` prefix replaced by this
server's endpoint (as the manifest asks) and the admin token added so updates run. Before each
test the store is emptied and the test's `ut:graphData` files are loaded into the named graphs
their `rdfs:label`s name (kasei's validator, the suite's origin, assumes those graphs exist).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from rdflib import Graph, Namespace
from rdflib.collection import Collection
from rdflib.namespace import RDFS
from servers import free_port, serve

SUITE = Path(__file__).parent / "w3c" / "sparql11-protocol"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HTS = "http://www.w3.org/2011/http-statusCodes#StatusCode"
TOKEN = "w3c-protocol-token"
RESULT_TYPES = {"application/sparql-results+json", "application/sparql-results+xml",
                "text/csv", "text/tab-separated-values"}
RDF_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt",
             "application/rdf+xml": "xml", "application/ld+json": "json-ld"}


@dataclass
class Step:
    """One HTTP request of a test and what its response must be."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    status_classes: set[int]
    result_format: str | None
    boolean: bool | None


@dataclass
class ProtocolTest:
    name: str
    graph_data: dict[str, Path]  # named graph IRI → data file
    steps: list[Step]


def _manifest() -> list[ProtocolTest]:
    graph = Graph().parse(SUITE / "manifest.ttl", format="turtle",
                          publicID=(SUITE / "manifest.ttl").as_uri())
    manifest = next(graph.subjects(predicate=MF.entries))
    tests = []
    for entry in Collection(graph, graph.value(manifest, MF.entries)):
        data = {str(graph.value(d, RDFS.label)): Path(graph.value(d, UT.graph).removeprefix(
                    "file://")) for d in graph.objects(entry, UT.graphData)}
        action = graph.value(entry, MF.action)
        steps = []
        for req in Collection(graph, graph.value(action, HT.requests)):
            headers = {}
            header_list = graph.value(req, HT.headers)
            for header in Collection(graph, header_list) if header_list else []:
                headers[str(graph.value(header, HT.fieldName))] = str(
                    graph.value(header, HT.fieldValue))
            body_node = graph.value(req, HT.body)
            body = None
            if body_node is not None:
                encoding = str(graph.value(body_node, CNT.characterEncoding) or "UTF-8")
                body = str(graph.value(body_node, CNT.chars)).encode(encoding)
            response = graph.value(req, HT.resp)
            expected_boolean = graph.value(response, MF.expectedBoolean)
            result_format = graph.value(response, MF.expectedFormat)
            steps.append(Step(
                method=str(graph.value(req, HT.methodName)),
                path=str(graph.value(req, HT.absolutePath)),
                headers=headers, body=body,
                status_classes={int(str(s).removeprefix(HTS)[0])
                                for s in graph.objects(response, MF.expectedStatus)},
                result_format=str(result_format) if result_format is not None else None,
                boolean=expected_boolean.toPython() if expected_boolean is not None else None,
            ))
        tests.append(ProtocolTest(str(entry).rsplit("#", 1)[-1], data, steps))
    return tests


TESTS = _manifest()


def test_the_suite_is_complete():
    assert len(TESTS) == 34


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """One server on an empty store, updates allowed with the token."""
    folder = tmp_path_factory.mktemp("w3c-protocol")
    with serve(folder / "store", free_port(), "--query-timeout", "10",
               env={"FAIRTRACKS_LD_ADMIN_TOKEN": TOKEN}) as base:
        yield base + "sparql"


def _reset(endpoint: str, graph_data: dict[str, Path]) -> None:
    """An empty store holding only the test's graph data."""
    inserts = "".join(f"GRAPH <{iri}> {{ {path.read_text(encoding='utf-8')} }}\n"
                      for iri, path in graph_data.items())
    update = "DROP ALL" + (f" ; INSERT DATA {{ {inserts} }}" if inserts else "")
    answer = requests.post(endpoint, data=update.encode(), timeout=60, headers={
        "Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 204, answer.text


def _boolean(response: requests.Response) -> bool:
    media = response.headers["Content-Type"].split(";")[0].strip()
    if media == "application/sparql-results+json":
        return response.json()["boolean"]
    assert media == "application/sparql-results+xml", media
    found = ET.fromstring(response.content).find(
        "{http://www.w3.org/2005/sparql-results#}boolean")
    return found.text.strip() == "true"


def _check(step: Step, response: requests.Response) -> None:
    assert response.status_code // 100 in step.status_classes, (
        f"{step.method} {step.path}: {response.status_code} {response.text[:300]}")
    media = response.headers.get("Content-Type", "").split(";")[0].strip()
    if step.result_format == "boolean":
        assert media in {"application/sparql-results+json", "application/sparql-results+xml"}
    elif step.result_format == "tabular":
        assert media in RESULT_TYPES
    elif step.result_format == "RDF":
        assert media in RDF_TYPES
        Graph().parse(data=response.content, format=RDF_TYPES[media], publicID=response.url)
    if step.boolean is not None:
        assert _boolean(response) is step.boolean, response.text


@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_w3c_protocol(endpoint, test):
    _reset(endpoint, test.graph_data)
    for step in test.steps:
        assert step.path.startswith("/sparql/")
        url = endpoint + step.path.removeprefix("/sparql/")
        response = requests.request(
            step.method, url, data=step.body, timeout=60, allow_redirects=False,
            headers={**step.headers, "Authorization": f"Bearer {TOKEN}"})
        _check(step, response)


def test_relative_iris_resolve_against_the_endpoint(endpoint):
    _reset(endpoint, {})
    answer = requests.post(endpoint, data=b"CONSTRUCT { <s> <p> 1 } WHERE {}", timeout=30,
                           headers={"Content-Type": "application/sparql-query",
                                    "Accept": "application/n-triples"})
    assert answer.status_code == 200
    assert "<" + endpoint.rsplit("/", 1)[0] + "/s>" in answer.text


def test_using_parameters_with_with_clause_are_refused_with_a_reason(endpoint):
    answer = requests.post(endpoint + "?using-graph-uri=http%3A%2F%2Fexample%2Fg", timeout=30,
                           data=b"WITH <http://example/h> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
                           headers={"Content-Type": "application/sparql-update",
                                    "Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400
    assert "USING or WITH" in answer.text


def test_results_stay_json_serialisable(endpoint):
    answer = requests.get(endpoint, params={"query": "SELECT (1 AS ?one) {}"}, timeout=30)
    assert json.loads(answer.text)["results"]["bindings"][0]["one"]["value"] == "1"
