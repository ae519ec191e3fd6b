"""Finding FROM and GRAPH keywords in query text (strings, IRIs, comments and names ignored)."""

import pytest

from fairtracks_ld.web.query_text import declares_dataset, names_graphs


@pytest.mark.parametrize(("query", "dataset", "graphs"), [
    ("SELECT * WHERE { ?s ?p ?o }", False, False),
    ("SELECT * FROM <http://g> WHERE { ?s ?p ?o }", True, True),
    ("select * from named <http://g> where { graph ?g { ?s ?p ?o } }", True, True),
    ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", False, True),
    ("SELECT ?from ?graph WHERE { ?from ex:graph $graph }", False, False),
    ('SELECT * WHERE { ?s ?p "FROM <x> GRAPH" }', False, False),
    ("SELECT * WHERE { ?s ?p '''a\nFROM\n''' }", False, False),
    ("SELECT * WHERE { ?s <http://e/FROM#GRAPH> ?o } # FROM <x>\n", False, False),
    ("SELECT * WHERE { ?s ?p ?o FILTER(?o < 3 && ?o > 1) }", False, False),
    ("PREFIX from: <http://e/> SELECT * WHERE { ?s from:graph ?o }", False, False),
    ("SELECT * WHERE { ?a ?b ?c FILTER(?c<?d) } # FROM", False, False),
])
def test_keywords_are_found_only_where_they_are_keywords(query, dataset, graphs):
    assert declares_dataset(query) is dataset
    assert names_graphs(query) is graphs
