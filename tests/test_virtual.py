"""The track → ancestor predicates rewritten into their paths before a query runs: only in verb
position of a graph pattern, never in templates, expressions, VALUES or as subjects/objects; the
rewritten query answers over a real store what the per-track links answered."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from fairtracks_ld.mapping import annotations
from fairtracks_ld.sparql.virtual import rewrite

FT = "https://w3id.org/fairtracks-ld/vocab#"
CELL = f"({annotations.TRACK_PATHS[FT + 'cell_type_ancestor']})"
TECHNIQUE = f"({annotations.TRACK_PATHS[FT + 'technique_ancestor']})"


@pytest.mark.parametrize(("query", "expected"), [
    ("SELECT ?t { ?t ft:cell_type_ancestor ?c }", f"SELECT ?t {{ ?t {CELL} ?c }}"),
    (f"SELECT ?t {{ ?t a ft:Track ; <{FT}cell_type_ancestor> ?c }}",
     f"SELECT ?t {{ ?t a ft:Track ; {CELL} ?c }}"),
    ("PREFIX v: <https://w3id.org/fairtracks-ld/vocab#> ASK { [] v:technique_ancestor ?c }",
     f"PREFIX v: <https://w3id.org/fairtracks-ld/vocab#> ASK {{ [] {TECHNIQUE} ?c }}"),
    ("SELECT * { ?t ^ft:cell_type_ancestor ?c }", f"SELECT * {{ ?t ^{CELL} ?c }}"),
    ("SELECT * { ?t (ft:label|ft:cell_type_ancestor) ?c }",
     f"SELECT * {{ ?t (ft:label|{CELL}) ?c }}"),
    ("SELECT * { ?s ?p ?o . ?t ft:cell_type_ancestor ?c }",
     f"SELECT * {{ ?s ?p ?o . ?t {CELL} ?c }}"),
    ("CONSTRUCT { ?t ft:cell_type_ancestor ?c } WHERE { ?t ft:cell_type_ancestor ?c }",
     f"CONSTRUCT {{ ?t ft:cell_type_ancestor ?c }} WHERE {{ ?t {CELL} ?c }}"),
    # the stored links beside a track predicate, or a track predicate split across a prefix
    ("SELECT * { ?e ft:own_technique_ancestor ?x . ?t ft:cell_type_ancestor ?c }",
     f"SELECT * {{ ?e ft:own_technique_ancestor ?x . ?t {CELL} ?c }}"),
    (f"PREFIX c: <{FT}cell_type_> SELECT * {{ ?t c:ancestor ?c }}",
     f"PREFIX c: <{FT}cell_type_> SELECT * {{ ?t {CELL} ?c }}"),
    (f"PREFIX own_c: <{FT}> SELECT * {{ ?t own_c:cell_type_ancestor ?c }}",
     f"PREFIX own_c: <{FT}> SELECT * {{ ?t {CELL} ?c }}"),
    (f"BASE <{FT}x> SELECT * {{ ?t <#cell_type_ancestor> ?c }}",
     f"BASE <{FT}x> SELECT * {{ ?t {CELL} ?c }}"),
])
def test_predicates_in_verb_position_become_paths(query, expected):
    assert rewrite(query) == expected


@pytest.mark.parametrize("query", [
    "SELECT ?l { ft:cell_type_ancestor rdfs:label ?l }",  # the vocabulary, as a subject
    "SELECT ?p { ?p rdfs:subPropertyOf ft:cell_type_ancestor }",  # as an object
    "SELECT * { VALUES ?p { ft:cell_type_ancestor } ?s ?p ?o }",
    "SELECT * { ?s ?p ?o FILTER(?p = ft:cell_type_ancestor) }",
    "CONSTRUCT WHERE { ?t ft:cell_type_ancestor ?c }",  # the pattern is the template
    "SELECT * { ?t ft:cell_type_ancestor ?c } 'unended",  # does not lex: the engine says why
    "SELECT * { ?t ft:label 'an ft:cell_type_ancestor in a string' }",
    "# ft:cell_type_ancestor in a comment\nSELECT * { ?s ?p ?o }",
    "SELECT ?t { ?t ft:cell_type ?c }",
])
def test_other_uses_are_left_alone(query):
    assert rewrite(query) == query


def test_a_query_spelling_only_stored_links_is_not_read(monkeypatch):
    """Text naming only the `own_…_ancestor` links (a rewritten query sent again, as clients
    that know the paths do) is passed on as it is, without reading it into tokens."""
    import fairtracks_ld.sparql.virtual as virtual

    def fail(*args, **kwargs):
        raise AssertionError("tokenized")

    monkeypatch.setattr(virtual, "tokenize", fail)
    query = f"SELECT ?t {{ ?t {CELL} ?c ; {TECHNIQUE} ?x }}"
    assert rewrite(query) == query


def test_the_rewritten_query_answers_what_per_track_links_answered():
    store = ox.Store()
    store.update(f"""PREFIX ft: <{FT}> INSERT DATA {{
        <http://x/t1> a ft:Track ; ft:experiment_ref <http://x/e> .
        <http://x/t2> a ft:Track ; ft:experiment_ref <http://x/e> .
        <http://x/e> ft:sample_ref <http://x/s> ; ft:own_phenotype_ancestor <http://x/P> .
        <http://x/s> ft:own_cell_type_ancestor <http://x/C> , <http://x/L> ;
                     ft:own_phenotype_ancestor <http://x/P> . }}""")
    query = f"PREFIX ft: <{FT}> SELECT ?t {{ ?t ft:cell_type_ancestor <http://x/L> }} ORDER BY ?t"
    assert [row[0].value for row in store.query(rewrite(query))] == ["http://x/t1", "http://x/t2"]
    assert not list(store.query(query))  # nothing stored under the track predicate
    both_ways = f"PREFIX ft: <{FT}> SELECT ?t {{ ?t ft:phenotype_ancestor <http://x/P> }}"
    assert len(list(store.query(rewrite(both_ways)))) == 2  # each track once
