"""Which queries are one triple pattern read straight from an index (sparql.single_pattern):
only those may be tried in the server thread, so anything that filters, joins, sorts, groups,
names a dataset, can be read two ways or mentions the network must say no."""

import pyoxigraph as ox
import pytest

from fairtracks_ld.sparql.single_pattern import COUNTED, one_pattern, single_pattern

FT = "PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"


ONE_PATTERN = [
    FT + 'SELECT ?track WHERE { ?track ft:label_short "RRBS sig r1" }',
    "select * { ?s ?p ?o . } limit 10",
    "BASE <http://e/> SELECT ?s { ?s a <Track> }",
    'SELECT ?s { ?s ?p "x"@en }',
    'SELECT ?s { ?s ?p "1"^^<http://www.w3.org/2001/XMLSchema#integer> }',
    "SELECT ?s ?o { ?s <http://e/p#frag> ?o } # a comment",
    "SELECT ?s { ?s ?p 1.5 }",
    "SELECT ?s { <http://e/s> ?s true }",
]


@pytest.mark.parametrize("query", ONE_PATTERN)
def test_one_pattern_read_from_an_index(query):
    assert single_pattern(query)


def _data() -> ox.Store:
    """Solutions for every ONE_PATTERN query: 12 tracks sharing a label, typed, with values."""
    store = ox.Store()
    store.load("".join(
        f'<http://e/t{n}> <https://w3id.org/fairtracks-ld/vocab#label_short> "RRBS sig r1" .\n'
        f"<http://e/t{n}> a <http://e/Track> .\n"
        f'<http://e/t{n}> <http://e/p#frag> "x"@en .\n'
        f"<http://e/s> <http://e/p{n}> true .\n"
        f"<http://e/t{n}> <http://e/q> 1.5, 1 .\n" for n in range(12)), ox.RdfFormat.TURTLE)
    return store


@pytest.mark.parametrize("query", ONE_PATTERN)
@pytest.mark.parametrize("cap", [0, 5, 11, 12, 100])
def test_capped_count_counts_the_solutions_up_to_the_cap(query, cap):
    """The count a caller decides by is the query's own number of solutions (its LIMIT, BASE
    and a trailing comment kept), or cap + 1 when there are more."""
    data = _data()
    solutions = len(list(data.query(query)))
    assert solutions > 0
    counted = data.query(one_pattern(query).capped_count(cap))
    assert int(next(iter(counted))[COUNTED].value) == min(solutions, cap + 1)


@pytest.mark.parametrize("query", [
    "SELECT ?s { ?s ?p ?s }",  # a shared variable: the scan filters
    "SELECT ?s ?o { $s ?p ?s }",  # ?s and $s are one variable
    "SELECT DISTINCT ?s { ?s ?p ?o }",
    "SELECT ?s { ?s ?p ?o } ORDER BY ?s",
    "SELECT ?s { ?s ?p ?o } LIMIT 5 OFFSET 3",
    "SELECT ?s { ?s ?p ?o } 5",
    "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
    "SELECT ?s FROM <http://g> { ?s ?p ?o }",
    "SELECT ?s { GRAPH ?g { ?s ?p ?o } }",
    "SELECT ?s { ?s ?p ?o FILTER(?o > 1) }",
    "SELECT ?s { ?s ?p ?o ; ?q ?r }",
    "SELECT ?s { ?s ?p ?o . ?o ?q ?r }",
    "SELECT ?s { ?s <http://e/a>/<http://e/b> ?o }",
    "SELECT ?s { ?s <http://e/a>* ?o }",
    "SELECT ?s { _:b ?p ?s }",
    "SELECT ?s { SERVICE <http://e/sparql> { ?s ?p ?o } }",
    "SELECT ?s { ?s <http://e/service> ?o }",  # mentions the network: not read at all
    'SELECT ?s { ?s ?p "\\u0022" }',  # an escape: read two ways
    "SELECT ?s { ?s ?p ?o",
    "ASK { ?s ?p ?o }",
    "CONSTRUCT WHERE { ?s ?p ?o }",
    "DESCRIBE <http://e/t>",
    "SELECT * {}",
    "SELECT ?s { ?s ?p ?o } ` trailing text that is not SPARQL",  # read to the end
    "SELECT ?s { ?s ?p ?o } LIMIT 5 ;",
    "PREFIX x: SELECT ?s { ?s ?p ?o }",  # a PREFIX without its IRI
])
def test_anything_else_is_not(query):
    assert not single_pattern(query)
    assert one_pattern(query) is None


def test_a_limit_is_read():
    assert one_pattern("select * { ?s ?p ?o . } limit 10").limit == 10
    assert one_pattern("SELECT * { ?s ?p ?o }").limit is None
