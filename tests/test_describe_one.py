"""`DESCRIBE <iri>` read without a query (nested.describe_one, the executor's fast path) is the
answer Oxigraph's DESCRIBE and with_nested give: the same triples in the same order, so the
same bytes in every format, on a graph of blank nodes (nested, shared, in a cycle) and nested
hash IRIs; queries it does not take (several IRIs, a PREFIX IRI Oxigraph refuses, a dataset)
are answered by the query, as before."""

from __future__ import annotations

from types import SimpleNamespace

import pyoxigraph as ox
import pytest

from fairtracks_ld.web import executor
from fairtracks_ld.web.executor import GRAPH_FORMATS, QueryError, QueryRequest, execute
from fairtracks_ld.web.nested import describe_one, with_nested
from fairtracks_ld.web.query_text import one_described

EX = "http://example.org/"
R = EX + "r"
DEFAULT = ox.DefaultGraph()


def node(name: str) -> ox.NamedNode:
    return ox.NamedNode(EX + name)


@pytest.fixture(scope="module")
def store() -> ox.Store:
    """A resource whose description branches: blank nodes under blank nodes (LIFO order
    matters), a blank node reached twice and a cycle of them, nested hash IRIs reached from
    the resource and from a blank node, a blank node under a nested IRI, links out that are not
    described, and triples in a named graph that no answer may hold."""
    store = ox.Store()
    p = [node(f"p{i}") for i in range(6)]
    blanks = [ox.BlankNode(f"b{i}") for i in range(12)]
    triples = [
        (node("r"), p[0], ox.Literal("label")),
        (node("r"), p[1], node("other")),
        (node("r"), p[2], ox.NamedNode(R + "#n1")),
        (node("r"), p[3], ox.Literal("42", datatype=ox.NamedNode(
            "http://www.w3.org/2001/XMLSchema#integer"))),
        (ox.NamedNode(R + "#n1"), p[0], ox.NamedNode(R + "#n2")),
        (ox.NamedNode(R + "#n1"), p[1], blanks[9]),
        (blanks[9], p[0], ox.Literal("under a nested node")),
        (ox.NamedNode(R + "#n2"), p[0], ox.Literal("deeper", language="en")),
        (ox.NamedNode(R + "#n2"), p[1], node("r")),  # back to the resource
        (node("other"), p[0], ox.Literal("not described")),
    ]
    for i in range(4):  # blank nodes of the resource, each with two blank children
        triples.append((node("r"), p[4], blanks[i]))
        triples.append((blanks[i], p[0], ox.Literal(f"blank {i}")))
        triples.append((blanks[i], p[5], blanks[4 + i]))
        triples.append((blanks[4 + i], p[1], ox.Literal(f"child {i}")))
    triples += [
        (blanks[4], p[2], blanks[0]),  # a cycle back to a described blank node
        (blanks[5], p[2], blanks[6]),  # a blank node reached twice
        (blanks[6], p[3], ox.NamedNode(R + "#n3")),  # a nested node under blank nodes
        (ox.NamedNode(R + "#n3"), p[0], ox.Literal("nested under a blank node")),
        (blanks[7], p[3], blanks[10]),
        (blanks[10], p[4], blanks[11]),
        (blanks[11], p[4], ox.Literal("three levels down")),
    ]
    store.extend(ox.Quad(s, p_, o, DEFAULT) for s, p_, o in triples)
    store.add(ox.Quad(node("r"), p[0], ox.Literal("in a named graph"), node("graph")))
    return store


def as_described(store: ox.Store, iri: str) -> list[ox.Triple]:
    """What the executor answered before the fast path: Oxigraph's DESCRIBE, with_nested."""
    return with_nested(store, list(store.query(f"DESCRIBE <{iri}>")), [iri], [DEFAULT])


@pytest.mark.parametrize("iri", [R, R + "#n1", R + "#n2", EX + "other", EX + "nothing"])
def test_describe_one_reads_what_describe_and_with_nested_answer(store, iri):
    expected = as_described(store, iri)
    found = describe_one(store, iri)
    assert [quad.triple for quad in found] == expected
    assert all(quad.graph_name == DEFAULT for quad in found)
    for syntax in GRAPH_FORMATS.values():
        assert ox.serialize(found, format=syntax) == ox.serialize(expected, format=syntax)


def test_the_description_holds_every_branch(store):
    objects = {str(quad.object) for quad in describe_one(store, R)}
    assert {'"three levels down"', '"nested under a blank node"', '"under a nested node"',
            '"deeper"@en'} <= objects
    assert '"in a named graph"' not in objects and '"not described"' not in objects


def test_an_iri_that_is_none_is_refused():
    with pytest.raises(ValueError):
        describe_one(ox.Store(), "http://example.org/a b")


@pytest.mark.parametrize(("query", "found"), [
    (f"DESCRIBE <{R}>", ("", R)),
    (f"  describe\n<{R}>\t", ("", R)),
    (f"PREFIX ex: <{EX}>\nprefix : <x>\nDESCRIBE <{R}>", (f"PREFIX ex: <{EX}>\nprefix : <x>\n", R)),
    (f"DESCRIBE <{R}> <{EX}other>", None),  # several IRIs: the query
    ("DESCRIBE <r>", None),  # relative: resolved by the query against the base
    (f"BASE <{EX}> DESCRIBE <{R}>", None),
    ("DESCRIBE ex:r", None),
    (f"DESCRIBE <{R}> # a comment", None),
    (f"DESCRIBE <{EX}\\u0072>", None),  # an escape
    ("DESCRIBE ?x WHERE { ?x ?p ?o }", None),
])
def test_one_described_reads_only_the_plain_shape(query, found):
    assert one_described(query) == found


def request(query: str, graph_type: str = "text/turtle", **fields) -> QueryRequest:
    return QueryRequest(query=query, result_type="application/sparql-results+json",
                        graph_type=graph_type, base_iri=EX + "sparql", **fields)


QUERIES = [f"DESCRIBE <{R}>", f"PREFIX ex: <{EX}>\nDESCRIBE <{R}#n1>", f"describe <{R}>",
           f"DESCRIBE <{R}> <{EX}other>", f"PREFIX ex: <{EX}>\nDESCRIBE ex:r",
           f"DESCRIBE <{EX}nothing>"]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("graph_type", list(GRAPH_FORMATS))
def test_the_fast_path_answers_what_the_query_answered(store, monkeypatch, query, graph_type):
    track_store = SimpleNamespace(ox=store)
    fast = execute(track_store, request(query, graph_type), 10_000_000, whole=True)
    monkeypatch.setattr(executor, "_one_described", lambda _request: None)
    assert execute(track_store, request(query, graph_type), 10_000_000, whole=True) == fast


def test_a_relative_prefix_iri_keeps_the_nested_nodes(store):
    """Oxigraph resolves a relative PREFIX IRI against the endpoint's IRI; the query path's
    reading of the query (query_text.describes_constants, without that base) took it for
    something else and answered without the nested nodes."""
    track_store = SimpleNamespace(ox=store)
    plain = execute(track_store, request(f"DESCRIBE <{R}>"), 10_000_000, whole=True)
    relative = request(f"PREFIX ex: <relative/>\nDESCRIBE <{R}>")
    assert execute(track_store, relative, 10_000_000, whole=True) == plain
    assert b"#n1" in plain[1] and b"deeper" in plain[1]


def test_a_prefix_oxigraph_refuses_is_refused_as_before(store):
    query = f"PREFIX ex: <{EX}%zz>\nDESCRIBE <{R}>"
    assert one_described(query) is not None  # the shape matches; Oxigraph has the last word
    with pytest.raises(QueryError) as refused:
        execute(SimpleNamespace(ox=store), request(query), 10_000_000, whole=True)
    assert refused.value.status == 400


def test_a_request_naming_its_dataset_is_answered_by_the_query(store, monkeypatch):
    """default-graph-uri: the description is read from that graph, not the default one."""
    named = request(f"DESCRIBE <{R}>", "application/n-triples", default_graphs=[EX + "graph"])
    _, body = execute(SimpleNamespace(ox=store), named, 10_000_000, whole=True)
    assert b"in a named graph" in body and b"label" not in body


def test_the_fast_path_keeps_the_size_limit(store):
    track_store = SimpleNamespace(ox=store)
    _, body = execute(track_store, request(f"DESCRIBE <{R}>"), 10_000_000, whole=True)
    with pytest.raises(QueryError) as refused:
        execute(track_store, request(f"DESCRIBE <{R}>"), len(body) - 1, whole=True)
    assert refused.value.status == 413
    assert execute(track_store, request(f"DESCRIBE <{R}>"), len(body), whole=True)[1] == body
