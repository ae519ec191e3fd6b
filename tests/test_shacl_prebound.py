"""SHACL-SPARQL pre-binding read with the project's SPARQL lexer: keywords and variables in
strings, IRIs and comments are text, not code; keywords in any case; nested parentheses."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from fairtracks_ld.validation.prebound import Prebound, check_prebinding, joinable
from fairtracks_ld.validation.shacl import validate_rdf
from fairtracks_ld.validation.shapes import Shape, UnsupportedShape, parse_shapes

PREFIXES = """@prefix ex: <http://example.org/> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
"""
DATA = PREFIXES + 'ex:a a ex:Thing ; ex:note "VALUES $this" .\nex:b a ex:Thing .'


@pytest.mark.parametrize("text", [
    'SELECT $this WHERE { $this ?p "MINUS { } VALUES" }',  # in a string
    "SELECT $this WHERE { $this ?p ?o } # MINUS VALUES ?x AS $this",  # in a comment
    "SELECT $this WHERE { $this <http://example.org/VALUES> ?minus }",  # in an IRI, a name
    "SELECT $this WHERE { $this ?p ?o { SELECT $this (1 AS ?n) WHERE { $this ?q ?r } } }",
])
def test_allowed(text: str) -> None:
    check_prebinding(text, "ex:S")


@pytest.mark.parametrize(("text", "message"), [
    ("SELECT $this WHERE { $this ?p ?o . minus { $this ?p 1 } }", "MINUS"),
    ("SELECT $this WHERE { Values ?o { 1 } $this ?p ?o }", "VALUES"),
    ("SELECT $this WHERE { $this ?p ?o BIND(?o as ?value) }", "pre-bound variable \\$value"),
    ("SELECT $this WHERE { $this ?p ?o BIND(?o AS ?limit) }", "pre-bound variable \\$limit"),
    ("SELECT $this WHERE { $this ?p ?o { SELECT ?o WHERE { ?s ?p ?o } } }", "sub-select"),
    ("SELECT $this WHERE { $this ?p 'unterminated }", "cannot be read"),
])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(UnsupportedShape, match=message):
        check_prebinding(text, "ex:S", ("limit",))


@pytest.mark.parametrize(("text", "expected"), [
    ("SELECT $this WHERE { $this ex:p ?v . FILTER NOT EXISTS { ?v ex:q ?w } }", True),
    ("SELECT ?this WHERE { ?this ex:p ?v }", True),  # ?this and $this: one variable
    ("SELECT $this WHERE { ?v ex:p $this }", False),  # not first
    ("SELECT $this WHERE { $this ex:p ?v { SELECT $this WHERE { $this ?p ?o } } }", False),
    ("SELECT $this WHERE { $this ex:p ?v GRAPH ?g { ?v ?p ?o } }", False),
    ("SELECT $this WHERE { $this ex:p ?v FILTER(?v = ?shapesGraph) }", False),
    ("SELECT $this WHERE { $this ex:p ?v BIND(CONCAT(STR(?v), STR($this)) AS ?x) }", False),
    ('SELECT $this WHERE { $this ex:p ?v FILTER(?v != "GRAPH SELECT") }', True),
])
def test_joinable(text: str, expected: bool) -> None:
    assert joinable(text) is expected


def test_bound_text_replaces_code_only() -> None:
    shape = Shape(ox.NamedNode("http://example.org/S"), None)
    query = Prebound('SELECT ?x WHERE { FILTER(bound($this) && ?x != "$this") '
                     "{ SELECT $this ?x WHERE { $this ?p ?x } } }  # $this", False, shape,
                     {"limit": ox.Literal(3)})
    assert query.mentioned == {"this"}
    assert query.text.startswith("SELECT ?this ?x WHERE")  # Oxigraph substitutes projected
    text = query.bound_text({"this": ox.NamedNode("http://example.org/a")})
    assert text == ('SELECT  ?x WHERE { FILTER((true) && ?x != "$this") '
                    "{ SELECT  ?x WHERE { <http://example.org/a> ?p ?x } } }  # $this")
    only = Prebound("SELECT $this WHERE { $this ?p ?o }", False, shape)
    assert only.bound_text({"this": ox.NamedNode("http://example.org/b")}) == \
        "SELECT  *  WHERE { <http://example.org/b> ?p ?o }"
    assert only.bound_text({"this": ox.BlankNode()}) is None  # Oxigraph's substitutions


def test_strings_that_look_like_code_validate() -> None:
    """A pre-bound query (sub-select) whose strings hold `$this` and VALUES: one result per
    focus node whose note differs from the text."""
    shapes = parse_shapes(PREFIXES + """ex:S sh:targetClass ex:Thing ; sh:sparql [ sh:select
      "SELECT $this WHERE { { SELECT $this WHERE { $this a ex:Thing } } FILTER NOT EXISTS { $this ex:note 'VALUES $this' } }" ;
      sh:prefixes [ sh:declare [ sh:prefix "ex" ; sh:namespace "http://example.org/"^^<http://www.w3.org/2001/XMLSchema#anyURI> ] ] ] .""")  # noqa: E501
    report = validate_rdf(list(ox.parse(DATA.encode(), format=ox.RdfFormat.TURTLE)), shapes)
    assert [r.focus for r in report.results] == [ox.NamedNode("http://example.org/b")]
