"""Which queries give the same answer every time on one snapshot (sparql.repeatable): only
those answers are cached by /sparql."""

from __future__ import annotations

import pytest

from fairtracks_ld.sparql.repeatable import repeatable


@pytest.mark.parametrize("query", [
    "SELECT ?s WHERE { ?s ?p ?o } LIMIT 10",
    'SELECT ?s WHERE { ?s <urn:label> "now and then: random uuid bnode service" }',
    "SELECT ?now WHERE { ?now <urn:p> ?rand } # NOW() RAND()",
    "SELECT ?s WHERE { ?s <http://example.org/service#now> ?o }",
    "ASK { ?s ?p ?o }",
])
def test_queries_without_changing_calls_are_repeatable(query):
    assert repeatable(query)


@pytest.mark.parametrize("query", [
    "SELECT (NOW() AS ?t) WHERE {}",
    "select (rand() as ?r) where {}",
    "SELECT (UUID() AS ?u) WHERE {}",
    "SELECT (STRUUID() AS ?u) WHERE {}",
    "CONSTRUCT { ?b <urn:p> 1 } WHERE { BIND(BNODE() AS ?b) }",
    "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
    "SELECT (\\u004EOW() AS ?t) WHERE {}",  # an escaped name, in one reading of escapes
    "SELECT (NOW() AS ?t) WHERE { ?s ?p 'unterminated }",  # unreadable: never cached
])
def test_queries_that_may_change_are_not(query):
    assert not repeatable(query)
