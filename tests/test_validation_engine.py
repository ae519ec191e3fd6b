"""The SHACL→SPARQL engine: every constraint component the shapes use, checked against pySHACL
on the same shapes and data (focus node, path, component, severity, value)."""

from __future__ import annotations

from collections import Counter

import pyoxigraph as ox
import pytest

from fairtracks_ld.validation import validate
from fairtracks_ld.validation.crosscheck import _rdflib, engine_keys, pyshacl_keys
from fairtracks_ld.validation.report import VIOLATION, WARNING
from fairtracks_ld.validation.shapes import UnsupportedShape, parse_shapes

PREFIXES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix ex: <http://example.org/> .
"""

SHAPES = PREFIXES + """
ex: sh:declare [ sh:prefix "ex" ; sh:namespace "http://example.org/"^^xsd:anyURI ] .

ex:Thing a sh:NodeShape ; sh:targetClass ex:Thing ;
  sh:property ex:name-min, ex:name-max, ex:name-datatype, ex:name-length, ex:name-pattern,
    ex:kind-in, ex:ref-class, ex:ref-kind, ex:tag-has, ex:seq-min, ex:list-items,
    ex:list-empty, ex:date, ex:part-node, ex:x-max0 ;
  sh:or ( [ sh:path ex:a ; sh:minCount 1 ] [ sh:path ex:b ; sh:minCount 1 ] ) .
ex:name-min sh:path ex:name ; sh:minCount 1 .
ex:name-max sh:path ex:name ; sh:maxCount 1 ; sh:severity sh:Warning ; sh:message "one name" .
ex:name-datatype sh:path ex:name ; sh:datatype xsd:string .
ex:name-length sh:path ex:name ; sh:minLength 2 ; sh:maxLength 5 .
ex:name-pattern sh:path ex:name ; sh:pattern "^[a-z]+$" ; sh:flags "i" .
ex:kind-in sh:path ex:kind ; sh:in ( "red" "green" ex:Blue ) .
ex:ref-class sh:path ex:ref ; sh:class ex:Thing .
ex:ref-kind sh:path ex:ref ; sh:nodeKind sh:IRI .
ex:tag-has sh:path ex:tag ; sh:hasValue "t" .
ex:seq-min sh:path ( ex:part ex:label ) ; sh:minCount 1 .
ex:list-items sh:path ( ex:list [ sh:zeroOrMorePath rdf:rest ] rdf:first ) ;
  sh:pattern "^x" .
ex:list-empty sh:path ex:list ; sh:not [ sh:hasValue rdf:nil ] .
ex:date sh:path ex:date ; sh:datatype xsd:dateTime .
ex:part-node sh:path ex:part ; sh:node ex:Part .
ex:x-max0 sh:path ex:x ; sh:maxCount 0 .
ex:Part a sh:NodeShape ; sh:property [ sh:path ex:label ; sh:minCount 1 ] .

ex:Parts a sh:NodeShape ; sh:targetObjectsOf ex:part ;
  sh:xone ( [ sh:path ex:label ; sh:minCount 1 ] [ sh:path ex:code ; sh:minCount 1 ] ) ;
  sh:and ( [ sh:path ex:code ; sh:maxCount 1 ] ) .

ex:Named a sh:NodeShape ; sh:targetSubjectsOf ex:name ; sh:nodeKind sh:IRI .
ex:One a sh:NodeShape ; sh:targetNode ex:t1 ; sh:property [ sh:path ex:kind ;
  sh:hasValue "red" ] .
ex:Red a sh:NodeShape ;
  sh:target [ a sh:SPARQLTarget ; sh:prefixes ex: ;
    sh:select "SELECT ?this WHERE { ?this ex:kind \\"red\\" }" ] ;
  sh:property [ sh:path ex:name ; sh:maxLength 3 ; sh:severity sh:Warning ] .
ex:Unique a sh:NodeShape ; sh:targetClass ex:Thing ;
  sh:property [ sh:path ex:name ; sh:sparql [ sh:prefixes ex: ;
    sh:message "{?value} is also the name of {?other}" ;
    sh:select \"\"\"SELECT $this ?value ?other WHERE { $this $PATH ?value .
      ?other ex:name ?value . FILTER(?other != $this) }\"\"\" ] ] .
ex:Refs a sh:NodeShape ; sh:targetClass ex:Thing ;
  sh:property [ sh:path ex:ref ; sh:sparql [ sh:prefixes ex: ;
    sh:select \"\"\"SELECT $this ?value WHERE { $this $PATH ?value .
      FILTER NOT EXISTS { ?value ex:name ?n } }\"\"\" ] ] .
ex:Sub a rdfs:Class, sh:NodeShape ; sh:property [ sh:path ex:name ; sh:minCount 1 ] .
"""

DATA = PREFIXES + """
ex:t1 a ex:Thing ; ex:name "abc" ; ex:kind "red" ; ex:ref ex:t2 ; ex:tag "t" ;
  ex:part [ ex:label "p" ] ; ex:list ( "x1" "x2" ) ; ex:date "2020-01-01T00:00:00Z"^^xsd:dateTime ;
  ex:a 1 .
ex:t2 a ex:Thing ; ex:name "abc", 7, "toolongname", "ab c"@en ; ex:kind "blue", ex:Blue ;
  ex:ref "lit", ex:t3 ; ex:list () ; ex:date "yesterday"^^xsd:dateTime ;
  ex:part [ ex:code "c1", "c2" ], [ ex:label "l" ; ex:code "c" ] ; ex:x 1 .
ex:t3 a ex:Thing ; ex:list ( "y" ) ; ex:b 2 .
ex:t4 a ex:SubThing ; ex:name "n" .
ex:SubThing rdfs:subClassOf ex:Thing .
_:n ex:name "blank" .
"""


def _data_store() -> ox.Store:
    store = ox.Store()
    store.load(DATA.encode(), format=ox.RdfFormat.TURTLE)
    return store


def _pyshacl(shapes: str, store: ox.Store):
    rdflib = _rdflib()
    shapes_graph = rdflib.Graph().parse(data=shapes, format="turtle")
    data = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    return pyshacl_keys(data, shapes_graph)[0]


def test_every_component_agrees_with_pyshacl():
    store = _data_store()
    shapes = parse_shapes(SHAPES)
    report = validate(store, shapes)
    ours = Counter(engine_keys(report, shapes))
    theirs = Counter(_pyshacl(SHAPES, store))
    assert ours - theirs == Counter()
    assert theirs - ours == Counter()
    components = {key[2].rsplit("#", 1)[1] for key in ours}
    assert components >= {
        "MinCountConstraintComponent", "MaxCountConstraintComponent",
        "DatatypeConstraintComponent", "MinLengthConstraintComponent",
        "MaxLengthConstraintComponent", "PatternConstraintComponent", "InConstraintComponent",
        "ClassConstraintComponent", "NodeKindConstraintComponent",
        "HasValueConstraintComponent", "NotConstraintComponent", "NodeConstraintComponent",
        "OrConstraintComponent", "XoneConstraintComponent", "AndConstraintComponent",
        "SPARQLConstraintComponent",
    }
    before = len(store)
    validate(store, parse_shapes(SHAPES))
    assert len(store) == before  # the engine only reads


def test_results_carry_severity_and_messages():
    report = validate(_data_store(), parse_shapes(SHAPES))
    warnings = [r for r in report.results if r.source_shape == ox.NamedNode(
        "http://example.org/name-max")]
    assert {r.severity for r in warnings} == {WARNING}
    assert {r.message for r in warnings} == {"one name"}
    unique = [r.message for r in report.results if r.component.endswith("SPARQLConstraintComponent")
              and r.message]
    assert "abc is also the name of http://example.org/t2" in unique
    assert not report.valid and not report.conforms
    assert VIOLATION in {r.severity for r in report.results}


def test_ill_typed_literals_fail_datatype():
    report = validate(_data_store(), parse_shapes(SHAPES))
    bad_dates = [r.value.value for r in report.results
                 if r.component.endswith("DatatypeConstraintComponent")
                 and r.path and r.path.iri == "http://example.org/date"]
    assert bad_dates == ["yesterday"]


def test_quads_input_and_w3c_report():
    triples = list(ox.parse(DATA.encode(), format=ox.RdfFormat.TURTLE))
    report = validate(triples, parse_shapes(SHAPES))
    turtle = report.serialize().decode()
    assert "sh:ValidationReport" in turtle and "sh:conforms false" in turtle
    parsed = list(ox.parse(report.serialize(ox.RdfFormat.JSON_LD), format=ox.RdfFormat.JSON_LD))
    assert len(parsed) > len(report.results) * 5


def test_unsupported_constructs_are_refused_by_name():
    with pytest.raises(UnsupportedShape, match="sh:entailment"):
        parse_shapes(PREFIXES + "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:entailment ex:E .")
    with pytest.raises(UnsupportedShape, match="sh:uniqueLang needs a property shape"):
        parse_shapes(PREFIXES + "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:uniqueLang true .")
