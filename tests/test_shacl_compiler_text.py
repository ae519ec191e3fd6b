"""The compiler reads user-written SHACL-SPARQL (constraints' and targets' SELECT text) with the
project's SPARQL lexer: WHERE, braces, `$PATH` and `$this` inside strings or comments are text,
keywords are read in any case, and `?this` is `$this`. Each text here was misread by the regexes
the compiler used before (wrong results, a broken query, or a lost optimisation)."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from fairtracks_ld.validation.engine import plan
from fairtracks_ld.validation.shacl import validate_rdf
from fairtracks_ld.validation.shapes import parse_shapes

PREFIXES = """@prefix ex: <http://example.org/> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
"""
DATA = PREFIXES + """
ex:a a ex:Thing ; ex:size 5 .
ex:b a ex:Thing ; ex:size 20 .
ex:c a ex:Thing ; ex:size 30 ; ex:note "?this" .
ex:d a ex:Other ; ex:size 40 .
"""
DECLARE = """sh:prefixes [ sh:declare [ sh:prefix "ex" ;
      sh:namespace "http://example.org/"^^<http://www.w3.org/2001/XMLSchema#anyURI> ] ]"""
TOO_BIG = [("http://example.org/b", "20"), ("http://example.org/c", "30")]


def _results(shapes_turtle: str) -> list[tuple[str, str | None]]:
    shapes = parse_shapes(PREFIXES + shapes_turtle)
    report = validate_rdf(list(ox.parse(DATA.encode(), format=ox.RdfFormat.TURTLE)), shapes)
    return sorted((r.focus.value, None if r.value is None else r.value.value)
                  for r in report.results)


def _constraint(select: str) -> str:
    return f"""ex:S sh:targetClass ex:Thing ; sh:property [ sh:path ex:size ;
      sh:sparql [ sh:select '''{select}''' ; {DECLARE} ] ] ."""


@pytest.mark.parametrize("select", [
    # a `WHERE {` in a comment before the real one
    "SELECT $this ?value # not here: WHERE {\nWHERE { $this $PATH ?value . FILTER(?value > 10) }",
    # a closing brace in a comment inside the WHERE group
    "SELECT $this ?value WHERE { $this $PATH ?value . # } is not the end\n"
    "FILTER(?value > 10) }",
    # `$PATH` in a string is text, not the path
    'SELECT $this ?value WHERE { $this $PATH ?value . BIND("$PATH" AS ?label) '
    "FILTER(STRLEN(?label) = 5 && ?value > 10) }",
    # the same, run once per focus node (the WHERE group does not start with `$this`)
    'SELECT $this ?value WHERE { BIND("$PATH" AS ?label) $this $PATH ?value . '
    "FILTER(STRLEN(?label) = 5 && ?value > 10) }",
    # lowercase keywords, `?this` for `$this`, nested braces
    "select ?this ?value where { ?this $PATH ?value . "
    "filter exists { { ex:a ex:size ?s } } filter(?value > 10) }",
])
def test_constraint_texts(select: str) -> None:
    assert _results(_constraint(select)) == TOO_BIG


@pytest.mark.parametrize("select", [
    "SELECT $this ?value WHERE { $this $PATH ?value . FILTER(?value > 10) }",
    "SELECT ?this ?value WHERE { ?this $PATH ?value . FILTER(?value > 10) }",  # `?this`
    'SELECT $this ?value WHERE { $this $PATH ?value . FILTER(?value > 10 && "$this" != "") }',
    "SELECT $this ?value WHERE { $this $PATH ?value . FILTER(?value > 10) # not $this\n}",
])
def test_rest_free_of_this_runs_per_value(select: str) -> None:
    """`$this $PATH ?value . REST`, REST free of `$this` (a string or a comment holding `$this`
    is not a mention, and `?this` is `$this`): REST runs once per distinct value (a shared
    value set), with the same results."""
    shapes = parse_shapes(PREFIXES + _constraint(select))
    queries = [q for q in plan(shapes, False).queries if "select" in q.checks[0].constraint.params]
    assert [q.values is not None for q in queries] == [True]
    assert _results(_constraint(select)) == TOO_BIG


@pytest.mark.parametrize("select", [
    "SELECT $this WHERE { $this a ex:Thing }",  # `$this` (not `?this`)
    "SELECT ?this WHERE { ?this a ex:Thing . # the things\n}",  # a comment before the brace
    "select distinct ?this where { ?this a ex:Thing . ?this ex:size ?s }",  # lowercase
    'SELECT ?this WHERE { ?this a ex:Thing . OPTIONAL { ?this ex:note ?n } '
    'FILTER(!BOUND(?n) || ?n != "?this") }',  # `?this` in a string is text
])
def test_target_texts(select: str) -> None:
    """A SPARQL-based target (inlined into the queries) selects ex:a and ex:b (and ex:c unless
    its note is excluded); sh:maxInclusive 10 then fails on the sizes above 10."""
    shapes = f"""ex:S sh:target [ a sh:SPARQLTarget ; sh:select '''{select}''' ; {DECLARE} ] ;
      sh:property [ sh:path ex:size ; sh:maxInclusive 10 ] ."""
    expected = TOO_BIG[:1] if "?n" in select else TOO_BIG
    assert _results(shapes) == expected
