"""The track → ancestor predicates rewritten into their paths before a query runs: only in verb
position of a graph pattern, never in templates, expressions, VALUES or as subjects/objects; the
rewritten query answers over a real store through the class closure, nothing stored per track."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from fairtracks_ld.mapping import annotations
from fairtracks_ld.sparql.virtual import bind_predicate, rewrite

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
    # a name that is no track predicate beside one, or a track predicate split across a prefix
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


def test_a_query_naming_no_track_predicate_is_not_read(monkeypatch):
    """Text that cannot name a track predicate (no "ancestor", no escape: a rewritten query sent
    again, as clients that know the paths do) is passed on as it is, without reading it into
    tokens."""
    import fairtracks_ld.sparql.virtual as virtual

    def fail(*args, **kwargs):
        raise AssertionError("tokenized")

    monkeypatch.setattr(virtual, "tokenize", fail)
    query = f"SELECT ?t {{ ?t {CELL} ?c ; {TECHNIQUE} ?x }}"
    assert rewrite(query) == query


def test_the_rewritten_query_answers_through_the_closure():
    """Two tracks of one experiment and sample: the sample's cell type C (below L in the
    closure), its phenotype P and the target's phenotype P, a file format no loaded ontology
    knows, and an obsolete technique O whose replacement is below R (`ft:found_under`)."""
    store = ox.Store()
    store.update(f"""PREFIX ft: <{FT}> INSERT DATA {{
        <http://x/t1> a ft:Track ; ft:experiment_ref <http://x/e> ;
                      ft:file_format [ ft:term_id <http://x/unknown> ] .
        <http://x/t2> a ft:Track ; ft:experiment_ref <http://x/e> .
        <http://x/e> ft:sample_ref <http://x/s> ;
                     ft:target [ ft:phenotype [ ft:term_id <http://x/P> ] ] ;
                     ft:technique [ ft:term_id <http://x/O> ] .
        <http://x/s> ft:sample_type [ ft:cell_type [ ft:term_id <http://x/C> ] ] ;
                     ft:phenotype [ ft:term_id <http://x/P> ] .
        <http://x/C> ft:descends_from <http://x/C> , <http://x/L> .
        <http://x/P> ft:descends_from <http://x/P> .
        <http://x/O> ft:descends_from <http://x/O> ; ft:found_under <http://x/R> . }}""")

    def tracks(predicate: str, term: str) -> list[str]:
        query = f"PREFIX ft: <{FT}> SELECT ?t {{ ?t ft:{predicate} <http://x/{term}> }} ORDER BY ?t"
        return [row[0].value for row in store.query(rewrite(query))]

    assert tracks("cell_type_ancestor", "L") == ["http://x/t1", "http://x/t2"]
    assert tracks("cell_type_ancestor", "C") == ["http://x/t1", "http://x/t2"]
    assert tracks("phenotype_ancestor", "P") == ["http://x/t1", "http://x/t2"]  # each once
    assert tracks("technique_ancestor", "R") == tracks("technique_ancestor", "O") == [
        "http://x/t1", "http://x/t2"]
    assert tracks("file_format_ancestor", "unknown") == ["http://x/t1"]  # itself only
    assert not tracks("cell_type_ancestor", "P")
    query = f"PREFIX ft: <{FT}> SELECT ?t {{ ?t ft:cell_type_ancestor <http://x/L> }}"
    assert not list(store.query(query))  # nothing stored under the track predicate


def test_a_facet_variable_is_written_in_only_as_a_predicate():
    """A named query's facet parameter: the track predicate replaces the variable in verb
    position (then `rewrite` expands it); a projection keeps the variable; anything but a
    track predicate is refused."""
    query = "SELECT ?facet ?c { ?t ?facet ?c . ?t ft:label ?facet }"
    bound = bind_predicate(query, "facet", FT + "cell_type_ancestor")
    assert bound == f"SELECT ?facet ?c {{ ?t <{FT}cell_type_ancestor> ?c . ?t ft:label ?facet }}"
    assert CELL in rewrite(bound)
    with pytest.raises(ValueError, match="no track predicate"):
        bind_predicate(query, "facet", FT + "label")
