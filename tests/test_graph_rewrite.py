"""The stored-once GRAPH rewrite, checked differentially: each query's answer on a store holding
every version as a real named graph (A) must equal the rewritten query's answer on a store where
two versions are stored once (B: their triples in the view only, found through the members
graph). A hand-written corpus covers each rule, a seeded fuzz combines them, deliberately broken
rewrites show that the comparison can fail, and the refusals are listed one by one."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import replace

import pyoxigraph as ox
import pytest

from fairtracks_ld.mapping.namespaces import DESCRIBED_IN, STORED_ONCE
from fairtracks_ld.sparql import graph_rewrite
from fairtracks_ld.sparql.graph_rewrite import (
    GraphRewriteRefused,
    check_update,
    described_in,
    rewrite,
    rewrite_dataset,
)

BASE = "http://localhost:8000/"
D1 = BASE + "collection/C1/document/D1"
D2 = BASE + "collection/C2/document/D2"
D3 = BASE + "collection/C3/document/D3"
V1 = D1 + "/version/aaa111"  # stored once in B
V2 = D2 + "/version/bbb222"  # stored once in B
V3 = D3 + "/version/ccc333"  # a named graph in both
REPORT = BASE + "graph/report"
MEMBERS = BASE + "graph/members"
STORED = frozenset({V1, V2})
FT = "https://w3id.org/fairtracks-ld/vocab#"
PFX = {"ft": FT, "obo": "http://purl.obolibrary.org/obo/",
       "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
       "xsd": "http://www.w3.org/2001/XMLSchema#"}

_PROLOGUE = "".join(f"@prefix {name}: <{iri}> .\n" for name, iri in PFX.items())
VERSIONS = {
    V1: f"""
<{D1}#doc> a ft:Document ; ft:label "Doc one" ; ft:has_track <{D1}#track1>, <{D1}#track2> .
<{D1}#track1> a ft:Track ; ft:label "K562 H3K27ac"@en ; ft:size "1200"^^xsd:integer ;
    ft:cell_type obo:CL_0000236 ; ft:experiment <{D1}#exp1> ; ft:next <{D1}#track2> .
<{D1}#track2> a ft:Track ; ft:label "GM12878 CTCF" ; ft:size "800"^^xsd:integer ;
    ft:cell_type obo:CL_0000945 ; ft:experiment <{D1}#exp1> .
<{D1}#exp1> a ft:Experiment ; ft:technique obo:OBI_0000716 ; ft:label "ChIP-seq" .
""",
    V2: f"""
<{D2}#doc> a ft:Document ; ft:label "Doc two" ; ft:has_track <{D2}#track1>, <{D2}#track2> .
<{D2}#track1> a ft:Track ; ft:label "HepG2 DNase" ; ft:size "300"^^xsd:integer ;
    ft:cell_type obo:CL_0000236 ; ft:experiment <{D2}#exp1> .
<{D2}#track2> a ft:Track ; ft:label "Graph in a GRAPH string" ; ft:same_as <{D1}#track1> ;
    ft:experiment <{D2}#exp1> ; ft:next <{D2}#track1> .
<{D2}#exp1> a ft:Experiment ; ft:technique obo:OBI_0000716 ; ft:label "DNase-seq" .
""",
    V3: f"""
<{D3}#doc> a ft:Document ; ft:label "Doc three" ; ft:has_track <{D3}#track1> .
<{D3}#track1> a ft:Track ; ft:label "K562 CTCF"@en ; ft:size "5"^^xsd:integer ;
    ft:cell_type obo:CL_0000945 ; ft:same_as <{D2}#track1> ; ft:annotation _:note .
_:note ft:label "a note" .
""",
}
REPORT_TRIPLES = f"""
<{D1}#track1> ft:checked true . <{D3}#track1> ft:checked false .
<{V1}> ft:report_status "ok" . <{V3}> ft:report_status "warnings" .
"""
ONTOLOGY = f"""
obo:CL_0000236 rdfs:label "B cell" ; rdfs:subClassOf obo:CL_0000945 .
obo:CL_0000945 rdfs:label "lymphocyte" .
obo:OBI_0000716 rdfs:label "ChIP-seq assay" .
ft:Track rdfs:label "Track" .
<{BASE}collection/C1> ft:current <{V1}> .
<{BASE}collection/C3> ft:current <{V3}> .
"""


def _triples(turtle: str) -> list[ox.Triple]:
    return [ox.Triple(quad.subject, quad.predicate, quad.object)
            for quad in ox.parse(_PROLOGUE + turtle, format=ox.RdfFormat.TURTLE)]


def _stores() -> tuple[ox.Store, ox.Store]:
    """(A) every version a named graph; (B) V1 and V2 stored once. Both: the view in the
    default graph, the report graph and the members graph."""
    a, b = ox.Store(), ox.Store()
    note = ox.BlankNode()  # the same blank node in V3's graph and in the view
    version_triples = {}
    for version, turtle in VERSIONS.items():
        found = []
        for triple in _triples(turtle):
            subject = note if isinstance(triple.subject, ox.BlankNode) else triple.subject
            value = note if isinstance(triple.object, ox.BlankNode) else triple.object
            found.append(ox.Triple(subject, triple.predicate, value))
        version_triples[version] = found
    members = ox.NamedNode(MEMBERS)
    quads = []
    for version, found in version_triples.items():
        for triple in found:
            quads.append(ox.Quad(*triple, ox.DefaultGraph()))
        if version in STORED:
            quads.append(ox.Quad(ox.NamedNode(version), ox.NamedNode(PFX_RDF + "type"),
                                 ox.NamedNode(STORED_ONCE), members))
            for entity in {triple.subject.value.split("#")[0] for triple in found}:
                quads.append(ox.Quad(ox.NamedNode(entity), ox.NamedNode(DESCRIBED_IN),
                                     ox.NamedNode(version), members))  # one an entity
    quads += [ox.Quad(*triple, ox.DefaultGraph()) for triple in _triples(ONTOLOGY)]
    quads += [ox.Quad(*triple, ox.NamedNode(REPORT)) for triple in _triples(REPORT_TRIPLES)]
    for store in (a, b):
        store.extend(quads)
    for version, found in version_triples.items():
        a.extend(ox.Quad(*triple, ox.NamedNode(version)) for triple in found)
        if version not in STORED:
            b.extend(ox.Quad(*triple, ox.NamedNode(version)) for triple in found)
    return a, b


PFX_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
STORE_A, STORE_B = _stores()
_BLANK = re.compile(r"_:[A-Za-z0-9]+")


def _answer(store: ox.Store, query: str, **dataset) -> object:
    """A query's answer in a comparable form: a multiset of solutions (blank nodes
    normalised), of triples, or a boolean. `dataset`: pyoxigraph's default_graph= and
    named_graphs=, as lists of IRIs."""
    result = store.query(query, prefixes=PFX, **{
        option: [ox.NamedNode(iri) for iri in iris] for option, iris in dataset.items()})
    if isinstance(result, ox.QueryBoolean):
        return bool(result)
    if isinstance(result, ox.QueryTriples):
        return Counter(_BLANK.sub("_:b", str(triple)) for triple in result)
    names = [variable.value for variable in result.variables]
    return Counter(tuple(sorted((name, _BLANK.sub("_:b", str(solution[name])))
                                for name in names if solution[name] is not None))
                   for solution in result)


def differ(query: str, reference: str | None = None) -> str | None:
    """None when the rewritten query answers on B as `reference` (the query itself unless
    given) does on A; else what differed. A refusal is reported as such."""
    try:
        rewritten = rewrite(query, STORED, MEMBERS, prefixes=PFX)
    except GraphRewriteRefused as error:
        return f"refused: {error}"
    expected = _answer(STORE_A, reference or query)
    try:
        got = _answer(STORE_B, rewritten)
    except (SyntaxError, OSError, ValueError) as error:
        return f"the rewrite does not run: {error}\n{rewritten}"
    if got != expected:
        return f"answers differ\n{rewritten}\nexpected {expected}\ngot {got}"
    return None


T1, T2, E1 = f"<{D1}#track1>", f"<{D1}#track2>", f"<{D1}#exp1>"
DOC1, DOC2, U1 = f"<{D1}#doc>", f"<{D2}#doc>", f"<{D2}#track1>"
G1, G2, G3, R = f"<{V1}>", f"<{V2}>", f"<{V3}>", f"<{REPORT}>"

# (query, reference on A); the reference differs only where Oxigraph evaluates a subquery inside
# GRAPH ?g over all named graphs with ?g unbound: the rewrite binds ?g as the spec says, which
# Oxigraph also does once the subquery projects ?g
CORPUS: list[str | tuple[str, str]] = [
    # GRAPH <v>
    f"SELECT * {{ GRAPH {G1} {{ ?s ?p ?o }} }}",
    f"SELECT ?s {{ GRAPH {G2} {{ ?s a ft:Track }} }}",
    f"SELECT * {{ GRAPH {G3} {{ ?s ?p ?o }} }}",
    f"SELECT * {{ GRAPH {R} {{ ?s ?p ?o }} }}",
    f"SELECT (COUNT(*) AS ?n) {{ GRAPH {G1} {{ ?s ?p ?o }} }}",
    f"SELECT * {{ GRAPH {G1} {{ }} }}",
    f"SELECT * {{ GRAPH {G2} {{ {T1} ?p ?o }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:label ?l ; ft:size ?n }} }}",
    f"SELECT * {{ GRAPH {G1} {{ {DOC1} ft:has_track ?t1, ?t2 }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track ; ft:label ?l ; }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:size ?n FILTER(?n > 1000) }} }}",
    f'SELECT * {{ GRAPH {G1} {{ ?t ft:size "800"^^xsd:integer }} }}',
    f'SELECT * {{ GRAPH {G1} {{ ?t ft:label "K562 H3K27ac"@en }} }}',
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:size 1200 }} }}",
    f"SELECT * {{ GRAPH {R} {{ ?t ft:checked true }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?s ?p ?o }} GRAPH {G2} {{ ?x ?p ?y }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:cell_type ?c }} ?c rdfs:label ?l }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:cell_type ?c . ?c rdfs:label ?l }} }}",
    f"SELECT * {{ GRAPH {G2} {{ ?u ft:same_as ?t }} GRAPH {G1} {{ ?t ft:label ?l }} }}",
    f"SELECT ?v {{ GRAPH {G1} {{ {T1} ?p ?v }} }} ORDER BY ?v",
    f"SELECT ?t ?l {{ GRAPH {G1} {{ ?t ft:label ?l }} }} ORDER BY DESC(?l) LIMIT 2",
    f"SELECT ?t ?l {{ GRAPH {G1} {{ ?t ft:label ?l }} }} ORDER BY ?t OFFSET 1",
    # GRAPH ?g
    "SELECT * { GRAPH ?g { ?s ?p ?o } }",
    "SELECT DISTINCT ?g { GRAPH ?g { } }",
    "SELECT * { GRAPH ?g { } }",
    "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
    "SELECT ?g ?s { GRAPH ?g { ?s a ft:Track } }",
    "SELECT $g ?s { GRAPH $g { ?s a ft:Track } }",
    "select * where { graph ?g { ?s a ft:Track } }",
    f"SELECT * {{ GRAPH ?g {{ ?s ft:label ?l }} FILTER(?g = {G1}) }}",
    f"SELECT * {{ GRAPH ?g {{ ?s ft:label ?l FILTER(?g != {G2}) }} }}",
    f"SELECT * {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g IN ({G1}, {G3})) }}",
    'SELECT * { GRAPH ?g { ?s ft:label ?l } '
    'FILTER(STRSTARTS(STR(?g), "http://localhost:8000/collection/C1")) }',
    "SELECT ?g ?l { ?s ft:cell_type ?c . ?c rdfs:label ?l . GRAPH ?g { ?s ft:label ?x } }",
    f"SELECT * {{ GRAPH {R} {{ ?g ft:report_status ?st }} GRAPH ?g {{ ?s a ft:Track }} }}",
    f"SELECT * {{ VALUES ?g {{ {G1} {G3} }} GRAPH ?g {{ ?s a ft:Track }} }}",
    f"SELECT * {{ GRAPH ?g {{ ?s a ft:Track }} VALUES ?g {{ {G2} {R} }} }}",
    "SELECT * { GRAPH ?g { ?g ?p ?o } }",
    "SELECT * { GRAPH ?g { ?s ?p ?g } }",
    "SELECT * { GRAPH ?g { ?t ft:same_as ?u } GRAPH ?h { ?u a ft:Track } }",
    "SELECT * { GRAPH ?g { ?t ft:same_as ?u } GRAPH ?g { ?u a ft:Track } }",
    "SELECT (COUNT(DISTINCT ?g) AS ?n) { GRAPH ?g { ?s a ft:Track } }",
    "SELECT ?g (MIN(?l) AS ?first) (MAX(STR(?l)) AS ?last) { GRAPH ?g { ?s ft:label ?l } } "
    "GROUP BY ?g",
    "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g HAVING (COUNT(*) > 5)",
    "SELECT ?g ?s ?l { GRAPH ?g { ?s ft:label ?l } } ORDER BY ?g ?s ?l LIMIT 4",
    "ASK { GRAPH ?g { ?s ft:same_as ?u } }",
    f"ASK {{ GRAPH ?g {{ {T1} ft:next {T2} }} FILTER(?g = {G1}) }}",
    "SELECT * { ?t a ft:Track OPTIONAL { GRAPH ?g { ?t ft:checked ?c } } }",
    "SELECT * { ?t a ft:Track OPTIONAL { GRAPH ?g { ?t ft:next ?n } } }",
    "SELECT * { GRAPH ?g { ?s a ft:Track } . GRAPH ?h { ?s ft:checked ?c } }",
    # OPTIONAL, UNION, MINUS, EXISTS inside
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track OPTIONAL {{ ?t ft:next ?n }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track OPTIONAL {{ ?t ft:cell_type ?c . "
    f"?c rdfs:label ?l }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ OPTIONAL {{ ?t ft:next ?n }} }} }}",
    "SELECT * { GRAPH ?g { ?t a ft:Track OPTIONAL { ?t ft:next ?n } } }",
    "SELECT * { GRAPH ?g { OPTIONAL { ?t ft:same_as ?n } } }",
    f"SELECT * {{ GRAPH ?g {{ ?t a ft:Track OPTIONAL {{ ?t ft:label ?l FILTER(?g = {G2}) }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ {{ ?s a ft:Track }} UNION {{ ?s a ft:Experiment }} }} }}",
    "SELECT * { GRAPH ?g { { ?s a ft:Track } UNION { ?s ft:same_as ?x } } }",
    f"SELECT * {{ {{ GRAPH {G1} {{ ?s a ft:Track }} }} UNION "
    f"{{ GRAPH {G3} {{ ?s a ft:Track }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track MINUS {{ ?t ft:next ?n }} }} }}",
    "SELECT * { GRAPH ?g { ?t a ft:Track MINUS { ?t ft:next ?n } } }",
    "SELECT * { GRAPH ?g { ?t a ft:Track MINUS { ?x a ft:Experiment } } }",
    f"SELECT * {{ GRAPH ?g {{ ?t a ft:Track MINUS {{ VALUES ?t {{ {T1} }} }} }} }}",
    f"SELECT * {{ GRAPH ?g {{ ?t a ft:Track MINUS {{ VALUES ?x {{ {T1} }} }} }} }}",
    f"SELECT * {{ GRAPH ?g {{ ?t a ft:Track MINUS {{ VALUES ?t {{ {T1} }} "
    f"FILTER(?g = {G1}) }} }} }}",
    f"SELECT * {{ GRAPH ?g {{ ?t a ft:Track MINUS {{ FILTER(?g = {G1}) }} }} }}",
    f"SELECT * {{ GRAPH ?g {{ ?t a ft:Track OPTIONAL {{ VALUES ?n {{ {T2} }} }} }} }}",
    f"SELECT * {{ ?t a ft:Track MINUS {{ GRAPH {G1} {{ ?t ?p ?o }} }} }}",
    "SELECT * { ?t a ft:Track MINUS { GRAPH ?g { ?t ft:next ?o } } }",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track FILTER EXISTS {{ ?t ft:next ?n }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track FILTER NOT EXISTS {{ ?t ft:next ?n }} }} }}",
    "SELECT * { GRAPH ?g { ?t a ft:Track FILTER NOT EXISTS { ?t ft:next ?n } } }",
    "SELECT * { GRAPH ?g { ?t a ft:Track FILTER EXISTS { ?x ft:same_as ?y } } }",
    "SELECT * { GRAPH ?g { FILTER EXISTS { ?s a ft:Experiment } } }",
    "SELECT * { GRAPH ?g { FILTER NOT EXISTS { ?s a ft:Experiment } } }",
    "SELECT * { ?t a ft:Track FILTER EXISTS { GRAPH ?g { ?t ft:next ?n } } }",
    f"SELECT * {{ ?t a ft:Track FILTER NOT EXISTS {{ GRAPH {G1} {{ ?t ?p ?o }} }} }}",
    "SELECT * { GRAPH ?g { ?t a ft:Track FILTER(EXISTS { ?t ft:next ?n } || ?g = ?t) } }",
    f"SELECT ?t (EXISTS {{ GRAPH {G1} {{ ?t ft:next ?n }} }} AS ?e) {{ ?t a ft:Track }}",
    # BIND, VALUES
    "SELECT * { GRAPH ?g { ?s ft:label ?l BIND(STRLEN(?l) AS ?n) } }",
    "SELECT * { GRAPH ?g { BIND(?g AS ?h) ?s a ft:Experiment } }",
    "SELECT * { GRAPH ?g { ?s a ft:Experiment OPTIONAL { BIND(?g AS ?h) } } }",
    f"SELECT * {{ GRAPH {G1} {{ VALUES ?t {{ {T1} {T2} {U1} }} ?t ft:label ?l }} }}",
    f"SELECT * {{ GRAPH ?g {{ VALUES ?t {{ {T1} {U1} }} ?t ft:label ?l }} }}",
    # subqueries
    f"SELECT * {{ GRAPH {G1} {{ SELECT ?t (COUNT(?p) AS ?n) WHERE {{ ?t ?p ?o }} GROUP BY ?t }} }}",
    f"SELECT * {{ GRAPH {G1} {{ SELECT ?t WHERE {{ ?t a ft:Track }} ORDER BY ?t LIMIT 1 }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track {{ SELECT ?t (COUNT(*) AS ?n) WHERE "
    f"{{ ?t ?p ?o }} GROUP BY ?t }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ SELECT * WHERE {{ ?d ft:has_track/ft:label ?l }} }} }}",
    f"SELECT * {{ GRAPH {G2} {{ SELECT ?t WHERE {{ SELECT ?t ?l WHERE "
    f"{{ ?t ft:label ?l }} }} }} }}",
    ("SELECT * { GRAPH ?g { SELECT ?t (COUNT(*) AS ?n) WHERE { ?t ?p ?o } GROUP BY ?t } }",
     "SELECT * { GRAPH ?g { SELECT ?t (COUNT(*) AS ?n) ?g WHERE { ?t ?p ?o } GROUP BY ?t ?g } }"),
    ("SELECT * { GRAPH ?g { SELECT DISTINCT ?t WHERE { ?t a ft:Track } } }",
     "SELECT * { GRAPH ?g { SELECT DISTINCT ?t ?g WHERE { ?t a ft:Track } } }"),
    ("SELECT * { GRAPH ?g { SELECT * WHERE { ?t a ft:Experiment } } }",
     "SELECT * { GRAPH ?g { SELECT ?t ?g WHERE { ?t a ft:Experiment } } }"),
    ("SELECT * { GRAPH ?g { ?t a ft:Track { SELECT ?x WHERE { ?x a ft:Experiment } } } }",
     "SELECT * { GRAPH ?g { ?t a ft:Track { SELECT ?x ?g WHERE { ?x a ft:Experiment } } } }"),
    ("SELECT * { GRAPH ?g { SELECT ?t ?d WHERE { ?d ft:has_track ?t } } }",
     "SELECT * { GRAPH ?g { SELECT ?t ?d ?g WHERE { ?d ft:has_track ?t } } }"),
    "SELECT ?g ?n { { SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g } }",
    "SELECT * { { SELECT * WHERE { GRAPH ?g { ?d ft:has_track/ft:label ?l } } } }",
    "SELECT * { { SELECT * WHERE { GRAPH ?g { ?d ft:has_track/ft:label ?l } } VALUES ?v { 1 } } }",
    f"SELECT * {{ GRAPH {G1} {{ ?d ft:has_track/ft:label ?l }} }} VALUES ?v {{ 1 2 }}",
    "SELECT * { { SELECT DISTINCT * WHERE { GRAPH ?g { ?d ft:has_track/ft:experiment ?e } } } }",
    # property paths, blank nodes
    f"SELECT * {{ GRAPH {G1} {{ ?d ft:has_track/ft:experiment ?e }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ^ft:has_track ?d }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:label|ft:technique ?x }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:label|ft:label ?x }} }}",
    "SELECT * { GRAPH ?g { ?d ft:has_track/ft:label ?l } }",
    "SELECT * { GRAPH ?g { ?t (ft:label|rdfs:label) ?l } }",
    "SELECT * { GRAPH ?g { ?t ft:same_as|ft:next ?u } }",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:cell_type/rdfs:label ?l }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:experiment/^ft:experiment ?u }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?d (ft:has_track/ft:next)|ft:has_track ?t }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?d ^(ft:experiment/^ft:has_track) ?t }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?d (ft:has_track|ft:next)/ft:experiment ?e }} }}",
    f"ASK {{ GRAPH {G1} {{ {DOC1} ft:has_track/ft:next {T2} }} }}",
    f"ASK {{ GRAPH {G2} {{ {DOC1} ft:has_track/ft:next {T2} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ {T1} ft:label|ft:size ?v }} }}",
    f"SELECT ?x {{ GRAPH {G1} {{ {DOC1} ft:has_track/ft:next {T2} . ?x a ft:Experiment }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:experiment [ a ft:Experiment ; ft:label ?el ] }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:experiment _:e . _:e ft:label ?el }} }}",
    "SELECT (COUNT(*) AS ?n) { GRAPH ?g { [] a ft:Track } }",
    "SELECT * { GRAPH ?g { [ a ft:Track ] ft:label ?l } }",
    "SELECT * { GRAPH ?g { [ ft:has_track ?t ] } }",
    "SELECT DISTINCT * { GRAPH ?g { ?t ft:experiment/ft:technique ?x } }",
    f"SELECT * {{ GRAPH {G3} {{ ?t ft:annotation [ ft:label ?l ] }} }}",
    f"SELECT * {{ GRAPH {G3} {{ ?t ft:annotation/ft:label ?l }} }}",
    # DISTINCT / REDUCED, CONSTRUCT, ASK, DESCRIBE
    "SELECT DISTINCT ?c { GRAPH ?g { ?t ft:cell_type ?c } }",
    "SELECT REDUCED ?g ?t { GRAPH ?g { ?t a ft:Track } }",
    f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {G1} {{ ?s ?p ?o }} }}",
    "CONSTRUCT { ?g ft:holds ?s } WHERE { GRAPH ?g { ?s a ft:Track } }",
    f"CONSTRUCT {{ _:x ft:of ?t }} WHERE {{ GRAPH {G1} {{ ?t a ft:Track }} }}",
    f'ASK {{ GRAPH {G1} {{ ?s ft:label "GM12878 CTCF" }} }}',
    f"ASK {{ GRAPH {G2} {{ {T1} ?p ?o }} }}",
    f"DESCRIBE {T1} WHERE {{ GRAPH {G1} {{ {T1} ?p ?o }} }}",
    f"DESCRIBE ?t WHERE {{ GRAPH {G1} {{ ?t a ft:Track }} }}",
    "DESCRIBE * WHERE { GRAPH ?g { ?t ft:same_as ?u } }",
    f"DESCRIBE {T1}",
    # GRAPH inside GRAPH (inside a version stored once: its group reads the view)
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:label ?l GRAPH {G2} {{ ?u ft:same_as ?t }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track GRAPH ?g {{ ?t ?p ?o }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ GRAPH {R} {{ ?t ft:checked ?c }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track GRAPH {G3} {{ ?x ft:same_as ?y }} }} }}",
    # names: prefixes, BASE, escapes, comments and strings
    f"PREFIX ver: <{D1}/version/> SELECT * {{ GRAPH ver:aaa111 {{ ?s ?p ?o }} }}",
    f"PREFIX c1: <{D1}#> SELECT * {{ GRAPH <{V1}> {{ c1:track1 ?p ?o }} }}",
    f"BASE <{D1}/> SELECT * {{ GRAPH <version/aaa111> {{ <#track1> ?p ?o }} }}",
    f"BASE <{D1}/x> PREFIX v: <version/> SELECT * {{ GRAPH v:aaa111 {{ ?s a ft:Track }} }}",
    f"SELECT * {{ GRAPH <{D1}/version/\\u0061aa111> {{ ?s a ft:Track }} }}",
    f"SELECT * {{ GRAPH <{D1}/version/aaa\\U00000031\\u003111> {{ ?s a ft:Track }} }}",
    "# GRAPH ?g { } in a comment\nSELECT * { ?s ft:label ?l }",
    f"# GRAPH ?g\nSELECT * {{ GRAPH {G1} {{ ?s ft:label ?l # GRAPH <x> {{\n }} }}",
    'SELECT * { ?s ft:label "Graph in a GRAPH string" }',
    'SELECT * { GRAPH ?g { ?s ft:label "Graph in a GRAPH string" } }',
    "SELECT * { ?s ft:label 'FROM <x> GRAPH ?g' }",
    # dataset clauses
    f"SELECT * FROM {G1} WHERE {{ ?s ?p ?o }}",
    f"SELECT ?t FROM {G1} WHERE {{ ?t a ft:Track OPTIONAL {{ ?t ft:next ?n }} }}",
    f"ASK FROM {G2} {{ {T1} ?p ?o }}",
    f"CONSTRUCT {{ ?s ft:in ?o }} FROM {G1} WHERE {{ ?s ft:experiment ?o }}",
    f"SELECT * FROM {G3} WHERE {{ ?s ?p ?o }}",
    f"DESCRIBE {T1} FROM {G1}",
    f"DESCRIBE {T1} {U1} ft:Track FROM {G1}",
    f"DESCRIBE {U1} FROM {G1}",
    f"SELECT * FROM NAMED {G3} WHERE {{ GRAPH ?g {{ ?s a ft:Track }} }}",
    f"SELECT * FROM NAMED {G3} FROM NAMED {R} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    f"SELECT * FROM {G3} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    f"SELECT * FROM NAMED {G3} WHERE {{ GRAPH {G1} {{ ?s ?p ?o }} }}",
]

REFUSED: list[tuple[str, str]] = [
    (f"SELECT * {{ GRAPH {G1} {{ ?t ft:next* ?n }} }}", "with *"),
    (f"SELECT * {{ GRAPH {G1} {{ ?t ft:next+ ?n }} }}", "with +"),
    (f"SELECT * {{ GRAPH {G1} {{ ?t ft:next? ?n }} }}", "with ?"),
    ("SELECT * { GRAPH ?g { ?t (ft:next/ft:next)* ?n } }", "with *"),
    (f"SELECT * {{ GRAPH {G1} {{ ?t !ft:next ?n }} }}", "negated property set"),
    (f"SELECT * {{ GRAPH {G1} {{ ?t !(ft:next|^ft:label) ?n }} }}", "negated property set"),
    (f"SELECT * {{ GRAPH {G1} {{ ?t ft:list (1 2) }} }}", "collection"),
    ("SELECT * { GRAPH ?g { SELECT ?t WHERE { ?t a ft:Track } LIMIT 1 } }", "LIMIT or OFFSET"),
    ("SELECT * { GRAPH ?g { SELECT ?t WHERE { ?t a ft:Track } OFFSET 1 } }", "LIMIT or OFFSET"),
    ("SELECT * { GRAPH ?g { SELECT (COUNT(*) AS ?n) WHERE { ?t a ft:Track } } }",
     "aggregate but no GROUP BY"),
    ("SELECT * { GRAPH ?g { SELECT ?g WHERE { ?g ?p ?o } } }", "uses ?g itself"),
    ("SELECT * { GRAPH ?g { ?s ?p ?o GRAPH ?h { ?s ?q ?x } } }", "nested inside GRAPH ?var"),
    (f"SELECT * {{ GRAPH ?g {{ ?s ?p ?o GRAPH {G3} {{ ?s ?q ?x }} }} }}",
     "nested inside GRAPH ?var"),
    (f"SELECT * {{ GRAPH {R} {{ ?t ft:checked ?c GRAPH {G1} {{ ?t ?p ?o }} }} }}",
     "inside another named graph"),
    (f"SELECT * {{ GRAPH {G3} {{ ?t ?p ?o GRAPH ?g {{ ?t ?q ?x }} }} }}",
     "inside another named graph"),
    (f"SELECT * FROM NAMED {G1} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}", "FROM / FROM NAMED"),
    (f"SELECT * FROM {G1} FROM {G3} WHERE {{ ?s ?p ?o }}", "FROM / FROM NAMED"),
    (f"SELECT * FROM {G1} FROM NAMED {G3} WHERE {{ ?s ?p ?o }}", "FROM / FROM NAMED"),
    (f"SELECT * FROM {G1} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}", "has no named graphs"),
    (f"DESCRIBE ?t FROM {G1} WHERE {{ ?t a ft:Track }}", "only a DESCRIBE of IRIs"),
    (f"CONSTRUCT FROM {G1} WHERE {{ ?s a ft:Track }}", "CONSTRUCT WHERE short form"),
    (f"SELECT (COUNT(DISTINCT *) AS ?n) {{ GRAPH {G1} {{ ?d ft:has_track/ft:label ?l }} }}",
     "COUNT(DISTINCT *)"),
    (f"SELECT * {{ GRAPH {G1} {{ {DOC1} ft:has_track/ft:next {T2} }} }}", "needs a variable"),
    ("SELECT * { GRAPH ?g { ?s ?p ?o ", "could not be read"),
    ("SELECT * { GRAPH ?g { VALUES ?t { ft:x } } }", "VALUES inside GRAPH ?var"),
    ("SELECT * { GRAPH ?g { ?s ?p ?o { VALUES ?t { ft:x } } } }", "VALUES inside GRAPH ?var"),
    (f"SELECT * {{ GRAPH ?g {{ ?t a ft:Track MINUS {{ OPTIONAL {{ ?t ft:next ?n }} "
     f"VALUES ?s {{ {T1} }} }} }} }}", "VALUES inside GRAPH ?var"),
    ("INSERT DATA { GRAPH <http://x/> { <http://a> <http://b> <http://c> } }",
     "could not be read"),
]


@pytest.mark.parametrize("entry", CORPUS, ids=range(len(CORPUS)))
def test_corpus_answers_as_named_graphs(entry):
    query, reference = (entry, None) if isinstance(entry, str) else entry
    assert differ(query, reference) is None


def test_corpus_size():
    assert len(CORPUS) >= 100


@pytest.mark.parametrize(("query", "reason"), REFUSED, ids=range(len(REFUSED)))
def test_refusals(query, reason):
    with pytest.raises(GraphRewriteRefused, match=re.escape(reason)) as raised:
        rewrite(query, STORED, MEMBERS, prefixes=PFX)
    message = str(raised.value)  # one sentence: an HTTP 400's body
    assert "\n" not in message and ". " not in message


def test_unchanged_without_versions_stored_once_or_graph_keywords():
    query = f"SELECT * {{ GRAPH {G1} {{ ?s ?p ?o }} }}"
    assert rewrite(query, (), MEMBERS) is query
    for plain in ["SELECT * { ?s ?p ?o }", "# GRAPH\nSELECT * { ?s ft:label 'GRAPH' }",
                  "SELECT * { ?s ft:graph ?from }", f"DESCRIBE {T1}",
                  "SELECT * { GRAPH ?g { ?s ?p ?o } 'unended"]:  # does not lex
        assert rewrite(plain, STORED, MEMBERS, prefixes=PFX) is plain


def test_service_and_real_graphs_are_copied_as_written():
    query = (f"SELECT * {{ GRAPH {G3} {{ ?s ?p ?o }} SERVICE <http://example.org/sparql> "
             f"{{ GRAPH ?g {{ ?s ?q ?x }} }} GRAPH {G1} {{ ?s a ft:Track SERVICE SILENT "
             "<http://example.org/sparql> { ?s ?r ?y } } }")
    rewritten = rewrite(query, STORED, MEMBERS, prefixes=PFX)
    assert rewritten.startswith(f"SELECT * {{ GRAPH {G3} {{ ?s ?p ?o }} SERVICE "
                                "<http://example.org/sparql> { GRAPH ?g { ?s ?q ?x } } ")
    assert "SERVICE SILENT <http://example.org/sparql> { ?s ?r ?y }" in rewritten
    assert f"?s a ft:Track . {described_in('?s', f'<{V1}>', MEMBERS, '?_vge')}" in rewritten


def test_fresh_variables_avoid_the_querys_own():
    query = f"SELECT * {{ GRAPH {G1} {{ ?_vg1 ft:has_track/ft:label ?l }} }}"
    rewritten = rewrite(query, STORED, MEMBERS, prefixes=PFX)
    assert "?_vgx1" in rewritten
    assert rewritten.startswith("SELECT ?_vg1 ?l WHERE") or "SELECT ?_vg1 ?l {" in rewritten
    assert differ(query) is None


def test_protocol_dataset():
    query = "SELECT ?t ?n WHERE { ?t a ft:Track OPTIONAL { ?t ft:next ?n } }"
    expected = _answer_with(STORE_A, query, default_graph=[ox.NamedNode(V1)])
    text, defaults, named = rewrite_dataset(query, [V1], None, STORED, MEMBERS, prefixes=PFX)
    assert (defaults, named) == (None, None)
    assert _answer(STORE_B, text) == expected
    # the query's own FROM is overridden by the protocol's dataset
    with_from = f"SELECT ?t ?n FROM {G3} WHERE {{ ?t a ft:Track OPTIONAL {{ ?t ft:next ?n }} }}"
    text, _, _ = rewrite_dataset(with_from, [V1], None, STORED, MEMBERS, prefixes=PFX)
    assert _answer(STORE_B, text) == expected
    # a GRAPH inside still reaches every named graph, as pyoxigraph keeps them
    inner = "SELECT * WHERE { ?t a ft:Track GRAPH ?g { ?t ft:checked ?c } }"
    text, _, _ = rewrite_dataset(inner, [V1], None, STORED, MEMBERS, prefixes=PFX)
    assert _answer(STORE_B, text) == _answer_with(STORE_A, inner,
                                                  default_graph=[ox.NamedNode(V1)])
    describe = f"DESCRIBE {T1} {U1}"
    text, _, _ = rewrite_dataset(describe, [V1], None, STORED, MEMBERS, prefixes=PFX)
    assert _answer(STORE_B, text) == Counter(
        str(triple) for triple in STORE_A.query(describe, default_graph=[ox.NamedNode(V1)]))
    assert len(_answer(STORE_B, text)) == 6
    # graphs stored as named graphs: passed on
    assert rewrite_dataset(query, [V3], [REPORT], STORED, MEMBERS, prefixes=PFX) == \
        (query, [V3], [REPORT])
    assert rewrite_dataset(query, [V3], None, STORED, MEMBERS, prefixes=PFX) == \
        (query, [V3], None)
    plain_graph = f"SELECT * WHERE {{ GRAPH {R} {{ ?s ?p ?o }} }}"
    assert rewrite_dataset(plain_graph, [V3], None, STORED, MEMBERS, prefixes=PFX)[0] == \
        plain_graph
    for defaults, named, reason in [([V1, V3], None, "only default-graph-uri"),
                                    ([V1, V3], [V2], "only default graph")]:
        with pytest.raises(GraphRewriteRefused, match=reason):
            rewrite_dataset(query, defaults, named, STORED, MEMBERS, prefixes=PFX)
    with pytest.raises(GraphRewriteRefused, match="another default-graph-uri"):
        rewrite_dataset("SELECT * { GRAPH ?g { ?s ?p ?o } }", [V3], None, STORED, MEMBERS,
                        prefixes=PFX)


def _answer_with(store: ox.Store, query: str, **options) -> object:
    result = store.query(query, prefixes=PFX, **options)
    names = [variable.value for variable in result.variables]
    return Counter(tuple(sorted((name, str(solution[name])) for name in names
                                if solution[name] is not None)) for solution in result)


# -- the protocol's named-graph-uri ----------------------------------------------------------

def differ_dataset(query: str, defaults: list[str] | None, named: list[str],
                   reference: str | None = None) -> str | None:
    """None when the query rewrite_dataset returns, run on B with the dataset it returns,
    answers as `reference` (the query itself unless given) does on A with pyoxigraph's dataset
    arguments: `named_graphs=` the named-graph-uris, `default_graph=` the default-graph-uris
    when given. A refusal is reported as such."""
    try:
        text, got_defaults, got_named = rewrite_dataset(query, defaults, named, STORED, MEMBERS,
                                                        prefixes=PFX)
    except GraphRewriteRefused as error:
        return f"refused: {error}"
    # (a graph listed twice is read once, as the protocol's set: pyoxigraph's GRAPH ?g would
    # answer it twice)
    asked = {"named_graphs": list(dict.fromkeys(named))} | (
        {} if defaults is None else {"default_graph": defaults})
    expected = _answer(STORE_A, reference or query, **asked)
    given = {option: iris for option, iris in (("default_graph", got_defaults),
                                               ("named_graphs", got_named)) if iris is not None}
    try:
        got = _answer(STORE_B, text, **given)
    except (SyntaxError, OSError, ValueError) as error:
        return f"the rewrite does not run: {error}\n{text}"
    if got != expected:
        return f"answers differ\n{text}\n{given}\nexpected {expected}\ngot {got}"
    return None


NAMED_DATASETS: list[tuple[list[str] | None, list[str]]] = [  # (default-, named-graph-uris)
    (None, [V1]), (None, [V1, V2]), (None, [V2, V1, V1]), (None, [V1, V3]),
    (None, [V2, V3, REPORT]), (None, [V1, MEMBERS]), (None, [V1, "http://example.org/nowhere"]),
    ([V1], [V2]), ([V1], [V1, V3]), ([V2], [V1, REPORT]), ([V1], [REPORT]),
    ([V1], [V3, MEMBERS]), ([V3], [V1]), ([REPORT, V3], [V2, REPORT]),
    (["http://example.org/nowhere"], [V1]),
]
_NOWHERE = "<http://example.org/nowhere>"
NAMED_QUERIES: list[str | tuple[str, str]] = [
    "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",  # the server's test
    "SELECT * { GRAPH ?g { ?s ?p ?o } }",
    "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
    "SELECT * { GRAPH ?g { } }",
    "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
    "SELECT ?t ?l { ?t a ft:Track ; ft:label ?l }",
    *(f"SELECT * {{ GRAPH {graph} {{ ?s a ft:Track }} }}" for graph in (G1, G2, G3, R)),
    *(f"SELECT * {{ GRAPH {graph} {{ }} }}" for graph in (G1, G2, G3, R, _NOWHERE)),
    f"ASK {{ GRAPH {G2} {{ ?s ?p ?o }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t ft:label ?l }} GRAPH {G2} {{ ?u ft:label ?l }} }}",
    f"SELECT * {{ GRAPH {G2} {{ ?u ft:same_as ?t }} OPTIONAL {{ GRAPH {G1} {{ ?t ft:label ?l }} }} "
    "}",
    f"SELECT * {{ GRAPH {G2} {{ VALUES ?t {{ {T1} }} }} BIND(?t AS ?u) }}",
    f"SELECT * {{ ?t a ft:Track OPTIONAL {{ GRAPH {G1} {{ OPTIONAL {{ ?t ft:next ?n }} }} }} }}",
    "SELECT ?t ?g { ?t a ft:Track OPTIONAL { GRAPH ?g { ?t ft:next ?n } } }",
    f"SELECT * {{ GRAPH ?g {{ ?t a ft:Track OPTIONAL {{ ?t ft:next ?n }} FILTER(?g != {G2}) }} }}",
    "SELECT * { GRAPH ?g { ?t a ft:Track MINUS { ?t ft:next ?n } } }",
    "SELECT * { GRAPH ?g { ?d ft:has_track/ft:label ?l } }",
    "SELECT * { GRAPH ?g { ?t ft:same_as|ft:next ?u } }",
    ("SELECT * { GRAPH ?g { SELECT DISTINCT ?t WHERE { ?t a ft:Track } } }",
     "SELECT * { GRAPH ?g { SELECT DISTINCT ?t ?g WHERE { ?t a ft:Track } } }"),
    f"SELECT * {{ GRAPH {R} {{ ?g ft:report_status ?st }} GRAPH ?g {{ ?s a ft:Track }} }}",
    "SELECT * { GRAPH ?g { ?t ft:same_as ?u } GRAPH ?h { ?u a ft:Track } }",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track GRAPH ?g {{ ?t ?p ?o }} }} }}",
    f"SELECT * {{ GRAPH {G1} {{ ?t a ft:Track GRAPH {G2} {{ ?u ft:same_as ?t }} }} }}",
    "CONSTRUCT { ?g ft:holds ?s } WHERE { GRAPH ?g { ?s a ft:Track } }",
    "SELECT * { ?t a ft:Track FILTER EXISTS { GRAPH ?g { ?t ft:next ?n } } }",
    f"DESCRIBE {T1}",
    # the query's own dataset: pyoxigraph's named_graphs= replaces FROM NAMED, keeps FROM
    f"SELECT * FROM NAMED {G3} WHERE {{ GRAPH ?g {{ ?s a ft:Track }} }}",
    f"SELECT * FROM NAMED {G1} WHERE {{ GRAPH {G1} {{ ?s a ft:Track }} }}",
    f"SELECT (COUNT(*) AS ?n) FROM {G3} WHERE {{ ?s ?p ?o }}",
    f"SELECT (COUNT(*) AS ?n) FROM {G1} WHERE {{ ?s ?p ?o }}",
    f"SELECT * FROM {G1} WHERE {{ ?t a ft:Track GRAPH ?g {{ ?t ft:next ?n }} }}",
    f"SELECT * FROM {G3} FROM NAMED {G3} WHERE {{ ?s a ft:Track GRAPH {G1} {{ ?s ?p ?o }} }}",
    f"SELECT * FROM {G3} WHERE {{ GRAPH ?g {{ ?s a ft:Track }} }}",
]
# the refusals over these datasets: a default graph other than the view or one version stored
# once, with a GRAPH the rewrite would have to read from the view; a GRAPH inside the GRAPH of
# a version stored once that is not listed (read as written, as another graph's GRAPH)
_OTHER_DEFAULT = "cannot be given another default graph"
_INSIDE = "inside another named graph's GRAPH"


@pytest.mark.parametrize(("defaults", "named"), NAMED_DATASETS, ids=range(len(NAMED_DATASETS)))
def test_named_graph_uris_answer_as_named_graphs(defaults, named):
    answered, failures, refusals = 0, [], Counter()
    for entry in NAMED_QUERIES:
        query, reference = (entry, None) if isinstance(entry, str) else entry
        found = differ_dataset(query, defaults, named, reference)
        if found is None:
            answered += 1
        elif found.startswith("refused: "):
            refusals[found[9:]] += 1
        else:
            failures.append(f"{query}\n{found}")
    assert not failures, f"{len(failures)} mismatches; first:\n{failures[0]}"
    assert all(_OTHER_DEFAULT in reason or _INSIDE in reason for reason in refusals), refusals
    print(f"{defaults} {named}: {answered} answered, {sum(refusals.values())} refused")
    if defaults is None or defaults[0] in STORED:  # the queries whose FROM names a real graph,
        assert sum(refusals.values()) <= 4, refusals  # with GRAPH; GRAPH ?g or G2 in GRAPH G1
        assert answered >= len(NAMED_QUERIES) - 4
    else:  # those with no GRAPH ?g, no GRAPH <listed version stored once>
        assert answered >= 13


@pytest.mark.parametrize(("defaults", "named"), [(None, [V1, V3]), (None, [V2]),
                                                 ([V2], [V1, REPORT]), ([V1], [V3, MEMBERS])])
def test_corpus_answers_over_named_graph_uris(defaults, named):
    """The corpus over a protocol dataset: as on A, or refused as without it."""
    failures, refused = [], 0
    for entry in CORPUS:
        query, reference = (entry, None) if isinstance(entry, str) else entry
        found = differ_dataset(query, defaults, named, reference)
        if found is None:
            continue
        if found.startswith("refused: "):
            refused += 1
        else:
            failures.append(f"{query}\n{found}")
    assert not failures, f"{len(failures)} mismatches; first:\n{failures[0]}"
    assert refused < len(CORPUS) // 10


def test_named_graph_uri_of_a_version_stored_once():
    """The server's request: `named-graph-uri=<v>` alone gives GRAPH ?g exactly {v}; the
    dataset returned names the members graph only (the rewrite reads it, a FILTER hides it)."""
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    text, defaults, named = rewrite_dataset(query, None, [V1], STORED, MEMBERS, prefixes=PFX)
    assert (defaults, named) == (None, [MEMBERS])
    assert _answer(STORE_B, text, named_graphs=named) == Counter({(("g", G1),): 1})
    # a real named graph beside it is passed on; the members graph listed is not hidden
    assert rewrite_dataset(query, None, [V1, V3, REPORT], STORED, MEMBERS, prefixes=PFX)[2] == \
        [V3, REPORT, MEMBERS]
    text, _, named = rewrite_dataset(query, None, [V1, MEMBERS], STORED, MEMBERS, prefixes=PFX)
    assert named == [MEMBERS] and "FILTER" not in text
    # a default graph of one version stored once: its WHERE read in GRAPH <v> over the view
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    text, defaults, named = rewrite_dataset(count, [V1], [V3], STORED, MEMBERS, prefixes=PFX)
    assert (defaults, named) == (None, [V3, MEMBERS])
    # another default graph: run as it is when no GRAPH needs the view, with the real graphs
    assert rewrite_dataset(count, [V3], [V1, REPORT], STORED, MEMBERS, prefixes=PFX) == \
        (count, [V3], [REPORT])
    assert rewrite_dataset(count, [V3], [V1], STORED, MEMBERS, prefixes=PFX) == \
        (count, [V3], [])  # an empty list: no named graph at all (pyoxigraph accepts it)


NAMED_REFUSED = [
    (f"SELECT * {{ GRAPH <{MEMBERS}> {{ ?s ?p ?o }} }}", None, [V1],
     "GRAPH <members graph>"),
    (f"SELECT * {{ GRAPH {G3} {{ GRAPH <{MEMBERS}> {{ ?s ?p ?o }} }} }}", None, [V1, V3],
     "GRAPH <members graph>"),
    ("SELECT * { GRAPH ?g { ?s ?p ?o } }", [V3], [V1], _OTHER_DEFAULT),
    (f"SELECT * {{ GRAPH {G1} {{ ?s ?p ?o }} }}", [REPORT], [V1, REPORT], _OTHER_DEFAULT),
    (f"SELECT * FROM {G3} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}", None, [V1], _OTHER_DEFAULT),
    ("SELECT * { ?s ?p ?o }", [V1, V3], [V2], "only default graph"),
    (f"SELECT * FROM {G1} FROM {G3} WHERE {{ ?s ?p ?o }}", None, [V2], "only default graph"),
    ("SELECT * { GRAPH ?g { ?s ?p ?o GRAPH ?h { ?s ?q ?x } } }", None, [V1],
     "nested inside GRAPH ?var"),
    (f"SELECT * {{ GRAPH {G1} {{ ?t ft:next* ?n }} }}", None, [V1], "with *"),
]


@pytest.mark.parametrize(("query", "defaults", "named", "reason"), NAMED_REFUSED,
                         ids=range(len(NAMED_REFUSED)))
def test_named_graph_uri_refusals(query, defaults, named, reason):
    with pytest.raises(GraphRewriteRefused, match=re.escape(reason)) as raised:
        rewrite_dataset(query, defaults, named, STORED, MEMBERS, prefixes=PFX)
    message = str(raised.value)
    assert "\n" not in message and ". " not in message


def test_broken_named_dataset_rewrites_are_caught(monkeypatch):
    """Binding ?g to every version stored once, or leaving the members graph visible, makes
    the named-graph-uri comparison fail."""
    def count() -> int:
        return sum(1 for defaults, named in NAMED_DATASETS for entry in NAMED_QUERIES
                   if (found := differ_dataset(entry if isinstance(entry, str) else entry[0],
                                               defaults, named,
                                               None if isinstance(entry, str) else entry[1]))
                   is not None and not found.startswith("refused"))

    original = graph_rewrite._Rewriter.__init__

    def unlisted(self, *args, **options):
        original(self, *args, **{**options, "listed": None})

    def members_shown(self, *args, **options):
        original(self, *args, **{**options, "hide_members": False})

    counts = {}
    for name, broken in [("every version stored once", unlisted),
                         ("members graph visible", members_shown)]:
        with monkeypatch.context() as patch:
            patch.setattr(graph_rewrite._Rewriter, "__init__", broken)
            counts[name] = count()
    assert all(found > 0 for found in counts.values()), counts
    assert count() == 0


def test_updates_naming_a_version_stored_once_are_refused():
    for update in [f"DROP GRAPH {G1}", f"INSERT DATA {{ GRAPH {G1} {{ {T1} ft:x 1 }} }}",
                   f"WITH {G2} DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
                   f"PREFIX v: <{D1}/version/> CLEAR GRAPH v:aaa111",
                   "DELETE WHERE { GRAPH ?g { ?s ft:label ?l } }",
                   f"DELETE {{ ?s ?p ?o }} USING {G1} WHERE {{ ?s ?p ?o }}"]:
        with pytest.raises(GraphRewriteRefused):
            check_update(update, STORED, MEMBERS, prefixes=PFX)
    for update in [f"DROP GRAPH {G3}", f"INSERT DATA {{ {T1} ft:x 1 }}",
                   "INSERT DATA { ft:x ft:y 'GRAPH ?g' }"]:
        check_update(update, STORED, MEMBERS, prefixes=PFX)
    check_update(f"DROP GRAPH {G1}", (), MEMBERS)


# -- the fuzz --------------------------------------------------------------------------------

_SUBJECTS = ["?s", "?t", "?x", T1, DOC1, U1]
_PREDICATES = ["a", "ft:label", "ft:has_track", "ft:experiment", "ft:next", "ft:same_as",
               "ft:cell_type", "rdfs:label", "?p", "ft:has_track/ft:label", "^ft:has_track",
               "ft:label|rdfs:label", "(ft:has_track|ft:same_as)/ft:label",
               "ft:experiment/^ft:experiment", "^ft:next/ft:label"]
_OBJECTS = ["?o", "?l", "?x", "?t", "ft:Track", '"GM12878 CTCF"', "obo:CL_0000236", T2]
_GRAPHS = [G1, G2, G3, R]


class _Fuzz:
    """Random queries from a small grammar; each comes with its reference (the same text,
    with ?g projected by subqueries inside GRAPH ?g, see CORPUS)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.bound = 0

    def query(self) -> tuple[str, str]:
        body, reference = self.elements(0, None, force_graph=True)
        form = self.random.choice(["SELECT *", "SELECT DISTINCT *", "SELECT *", "ASK",
                                   "SELECT (COUNT(*) AS ?n)"])
        return f"{form} WHERE {{ {body} }}", f"{form} WHERE {{ {reference} }}"

    def elements(self, depth: int, graph: str | None, force_graph: bool = False,
                 ) -> tuple[str, str]:
        pairs = [self.element(depth, graph, force_graph and number == 0)
                 for number in range(self.random.randint(1, 3))]
        return " ".join(q for q, _ in pairs), " ".join(r for _, r in pairs)

    def element(self, depth: int, graph: str | None, force_graph: bool) -> tuple[str, str]:
        choice = self.random.random()
        if force_graph or (graph in (None, "once") and depth < 3 and choice < 0.2):
            name = "?g" if graph is None else "?h"
            target = self.random.choice([name, name, *_GRAPHS])
            # Oxigraph leaves ?h unbound around a subquery even when it projects ?h, inside
            # GRAPH ?h inside another GRAPH: no reference, so no subquery there
            inner = ("var" if graph is None else "nested var") if target.startswith("?") \
                else "once" if target in (G1, G2) \
                else "named"  # (a GRAPH inside another named graph is refused: REFUSED)
            body, reference = self.elements(depth + 1, inner)
            return f"GRAPH {target} {{ {body} }}", f"GRAPH {target} {{ {reference} }}"
        if depth < 3 and choice < 0.45:
            keyword = self.random.choice(["OPTIONAL", "MINUS", "FILTER EXISTS",
                                          "FILTER NOT EXISTS", "UNION", "GROUP"])
            body, reference = self.elements(depth + 1, graph)
            if keyword == "UNION":
                other, other_reference = self.elements(depth + 1, graph)
                return (f"{{ {body} }} UNION {{ {other} }}",
                        f"{{ {reference} }} UNION {{ {other_reference} }}")
            if keyword == "GROUP":
                return f"{{ {body} }}", f"{{ {reference} }}"
            return f"{keyword} {{ {body} }}", f"{keyword} {{ {reference} }}"
        if depth < 3 and choice < 0.52 and graph != "nested var":
            body, reference = self.elements(depth + 1, graph)
            variables = sorted(set(re.findall(r"\?[a-z]\w*", body)) - {"?g", "?h"})
            projected = " ".join(variables[:2]) or "?s"
            extra = " ?g" if graph == "var" else ""
            if self.random.random() < 0.3:  # grouped, with an aggregate
                self.bound += 1
                key = variables[0] if variables else "?s"
                head = f"SELECT {key} (COUNT(*) AS ?c{self.bound})"
                return (f"{{ {head} WHERE {{ {body} }} GROUP BY {key} }}",
                        f"{{ {head}{extra} WHERE {{ {reference} }} GROUP BY {key}{extra} }}")
            distinct = self.random.choice(["", "DISTINCT "])
            return (f"{{ SELECT {distinct}{projected} WHERE {{ {body} }} }}",
                    f"{{ SELECT {distinct}{projected}{extra} WHERE {{ {reference} }} }}")
        if choice < 0.58:
            filters = ["FILTER(bound(?x))", "FILTER(isIRI(?o))", "FILTER(!bound(?t))",
                       f"FILTER(?s != {T1})"]
            if graph == "var":
                filters.append(f"FILTER(?g = {self.random.choice(_GRAPHS)})")
            if graph == "nested var":
                filters.append(f"FILTER(?h != {self.random.choice(_GRAPHS)})")
            if graph is None:  # ?g used outside its GRAPH
                filters.append(f"FILTER(!bound(?g) || ?g != {self.random.choice(_GRAPHS)})")
            text = self.random.choice(filters)
            return text, text
        if choice < 0.62:
            self.bound += 1
            source = {"var": "?g", "nested var": "?h"}.get(graph, "?s") \
                if self.random.random() < 0.5 else "?s"
            text = f"BIND({source} AS ?b{self.bound})"
            return text, text
        if choice < 0.66:
            text = f"VALUES ?s {{ {T1} {U1} {DOC2} }}"
            return text, text
        subject = self.random.choice(_SUBJECTS)
        if self.random.random() < 0.1 and graph is not None:
            subject = self.random.choice(["[]", "_:b1", "[ a ft:Track ]"])
        value = self.random.choice(_OBJECTS)
        if self.random.random() < 0.1 and graph is not None:
            value = self.random.choice(["[ ft:label ?l ]", "[ a ?o ; ft:experiment ?x ]"])
        text = f"{subject} {self.random.choice(_PREDICATES)} {value}"
        if self.random.random() < 0.2:  # a property list
            text += f" ; {self.random.choice(_PREDICATES)} {self.random.choice(_OBJECTS)}, ?x"
        return text + " .", text + " ."


FUZZ_SEED, FUZZ_COUNT = 20261207, 300


def _fuzz_results() -> tuple[list[str], Counter[str], int]:
    fuzz = _Fuzz(FUZZ_SEED)
    failures: list[str] = []
    refusals: Counter[str] = Counter()
    invalid = 0
    for _ in range(FUZZ_COUNT):
        query, reference = fuzz.query()
        try:
            _answer(STORE_A, reference)
        except SyntaxError:
            invalid += 1  # a generated query Oxigraph rejects (e.g. BIND of a bound variable)
            continue
        found = differ(query, reference)
        if found is None:
            continue
        if found.startswith("refused: "):
            refusals[found[9:].split(" is refused")[0]] += 1
        else:
            failures.append(f"{query}\n{found}")
    return failures, refusals, invalid


def test_fuzz_answers_as_named_graphs():
    failures, refusals, invalid = _fuzz_results()
    print(f"fuzz: {FUZZ_COUNT} queries, {invalid} invalid, refused {dict(refusals)}")
    assert not failures, f"{len(failures)} mismatches; first:\n{failures[0]}"
    # refusals are the documented nested GRAPH and path forms only, and leave most answered
    assert set(refusals) <= {"a GRAPH nested inside GRAPH ?var",
                             "VALUES inside GRAPH ?var",
                             "a subquery without a triple pattern inside GRAPH ?var",
                             "a subquery inside GRAPH ?g that uses ?g itself",
                             "SELECT * over a version stored once with property paths or blank "
                             "nodes needs a variable to select",
                             "GRAPH ?var or GRAPH <version stored once> inside another named "
                             "graph's GRAPH"}, refusals
    assert sum(refusals.values()) + invalid < FUZZ_COUNT // 2


@pytest.mark.parametrize(("defaults", "named"), [(None, [V1, V3]), (None, [V2, REPORT]),
                                                 ([V2], [V1, V3])])
def test_fuzz_answers_over_named_graph_uris(defaults, named):
    """The fuzz's queries over a protocol dataset listing versions stored once."""
    fuzz = _Fuzz(FUZZ_SEED + 1)
    failures, answered = [], 0
    for _ in range(FUZZ_COUNT // 2):
        query, reference = fuzz.query()
        try:
            _answer(STORE_A, reference)
        except SyntaxError:
            continue
        found = differ_dataset(query, defaults, named, reference)
        if found is None:
            answered += 1
        elif not found.startswith("refused: "):
            failures.append(f"{query}\n{found}")
    assert not failures, f"{len(failures)} mismatches; first:\n{failures[0]}"
    assert answered > FUZZ_COUNT // 4


# -- the comparison can fail -----------------------------------------------------------------

def _mismatches() -> int:
    found = 0
    for entry in CORPUS:
        query, reference = (entry, None) if isinstance(entry, str) else entry
        result = differ(query, reference)
        if result is not None and not result.startswith("refused"):
            found += 1
    return found


def test_broken_rewrites_are_caught(monkeypatch):
    """Each deliberately broken rewrite makes corpus queries answer differently."""
    group = graph_rewrite._Rewriter.group
    triple = graph_rewrite._Rewriter._triple
    mark = graph_rewrite._Rewriter._mark
    subselect = graph_rewrite._Rewriter.subselect

    def no_membership_in_optional(self, index, context):
        if index and self._word(index - 1, "optional") and context.member is not None:
            context = replace(context, member=None)
        return group(self, index, context)

    def alternative_without_distinct(self, subject, verb, value, context, out):
        if verb[0] == "alt":
            for option in verb[1]:
                self._triple(subject, option, value, context, out)
            return
        triple(self, subject, verb, value, context, out)

    def no_mark(self, context):
        return ""

    def no_graph_projection(self, index, context):
        return subselect(self, index, replace(context, graph_var=None))

    def star_kept(self):
        pass

    counts = {}
    for name, method, broken in [("membership dropped inside OPTIONAL", "group",
                                  no_membership_in_optional),
                                 ("alternatives not DISTINCT", "_triple",
                                  alternative_without_distinct),
                                 ("no stored-once mark in groups", "_mark", no_mark),
                                 ("?g not projected by subqueries", "subselect",
                                  no_graph_projection),
                                 ("SELECT * keeps the fresh variables", "_star_projections",
                                  star_kept)]:
        with monkeypatch.context() as patch:
            patch.setattr(graph_rewrite._Rewriter, method, broken)
            counts[name] = _mismatches()
    for name, broken_entity in [
            ("a nested node's entity not cut at #", lambda term: f"IRI(STR({term}))"),
            ("a blank node's entity left unbound",
             lambda term: f'IRI(STRBEFORE(CONCAT(STR({term}), "#"), "#"))')]:
        with monkeypatch.context() as patch:
            patch.setattr(graph_rewrite, "entity", broken_entity)
            counts[name] = _mismatches()
    del mark
    print(counts)
    assert all(count > 0 for count in counts.values()), counts
    assert _mismatches() == 0


def test_a_query_that_cannot_name_a_graph_is_returned_without_being_read(monkeypatch):
    """The fast path: no `graph` or `from` in the text, no lexing (its cost is the bench's
    to measure, not a test's)."""
    plain = ("PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#> SELECT ?t ?l WHERE { "
             "?t a ft:Track ; ft:label ?l ; ft:cell_type ?c . ?c rdfs:label 'lymphocyte' } "
             "ORDER BY ?l LIMIT 20")

    def unread(*args, **kwargs):
        raise AssertionError("the query was lexed")

    monkeypatch.setattr(graph_rewrite, "tokenize", unread)
    assert rewrite(plain, STORED, MEMBERS) is plain
    with pytest.raises(AssertionError, match="lexed"):
        rewrite(plain.replace("LIMIT 20", "FROM <urn:x> LIMIT 20"), STORED, MEMBERS)
