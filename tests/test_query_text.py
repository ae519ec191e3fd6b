"""Finding FROM and GRAPH keywords in query text (strings, IRIs, comments and names ignored)."""

import pytest

from fairtracks_ld.web.query_text import describes_constants, names_graphs


@pytest.mark.parametrize(("query", "graphs"), [
    ("SELECT * WHERE { ?s ?p ?o }", False),
    ("SELECT * FROM <http://g> WHERE { ?s ?p ?o }", True),
    ("select * from named <http://g> where { graph ?g { ?s ?p ?o } }", True),
    ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", True),
    ("SELECT ?from ?graph WHERE { ?from ex:graph $graph }", False),
    ('SELECT * WHERE { ?s ?p "FROM <x> GRAPH" }', False),
    ("SELECT * WHERE { ?s ?p '''a\nFROM\n''' }", False),
    ("SELECT * WHERE { ?s <http://e/FROM#GRAPH> ?o } # FROM <x>\n", False),
    ("SELECT * WHERE { ?s ?p ?o FILTER(?o < 3 && ?o > 1) }", False),
    ("PREFIX from: <http://e/> SELECT * WHERE { ?s from:graph ?o }", False),
    ("SELECT * WHERE { ?a ?b ?c FILTER(?c<?d) } # FROM", False),
])
def test_keywords_are_found_only_where_they_are_keywords(query, graphs):
    assert names_graphs(query) is graphs


@pytest.mark.parametrize(("query", "constant"), [
    ("DESCRIBE <http://e/t1>", True),
    ("  describe <http://e/t1> <http://e/t2>\n", True),
    ("PREFIX ex: <http://e/>\nBASE <http://b/>\nDESCRIBE ex:t1 <t2> :x", True),
    ("# DESCRIBE ?s WHERE { ?s ?p ?o }\nDESCRIBE <http://e/a#frag> # done", True),
    ("DESCRIBE ?s WHERE { ?s ?p ?o }", False),
    ("DESCRIBE <http://e/t1> WHERE { }", False),
    ("DESCRIBE *", False),
    ("DESCRIBE <http://e/t1> FROM <http://g>", False),
    ("SELECT * WHERE { ?s ?p ?o }", False),
    ("DESCRIBE ex:t1 ?s", False),
])
def test_only_describes_of_constants_are_bounded(query, constant):
    assert describes_constants(query) is constant
