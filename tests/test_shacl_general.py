"""The general SHACL validator: `fairtracks-ld shacl` (formats, reports, exit codes), literals
checked as written, owl:imports from a catalog, the rules for user SPARQL, and agreement with
pySHACL on the core components (the W3C suite is tests/test_w3c_shacl.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest

from fairtracks_ld.validation.crosscheck import _rdflib, engine_keys, pyshacl_keys
from fairtracks_ld.validation.prebound import SparqlTimeout
from fairtracks_ld.validation.shacl import read_rdf, shapes_graph, validate_files, validate_rdf
from fairtracks_ld.validation.shapes import UnsupportedShape, parse_shapes

PREFIXES = """@prefix ex: <http://example.org/> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
"""
DATA = PREFIXES + """
ex:a a ex:Person ; ex:age "300"^^xsd:byte ; ex:name "A"@en, "B"@en ; ex:code "01"^^xsd:integer .
ex:b a ex:Person ; ex:age "42"^^xsd:byte ; ex:name "C"@de ; ex:code "1"^^xsd:integer ;
  ex:born "1990-01-01"^^xsd:date ; ex:died "1980-01-01"^^xsd:date .
"""
SHAPES = PREFIXES + """
ex:P a sh:NodeShape ; sh:targetClass ex:Person ; sh:closed true ;
  sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) ;
  sh:property [ sh:path ex:age ; sh:datatype xsd:byte ; sh:maxInclusive 120 ] ,
    [ sh:path ex:name ; sh:uniqueLang true ; sh:languageIn ( "en" ) ] ,
    [ sh:path ex:code ; sh:in ( 1 ) ] ,
    [ sh:path ex:born ; sh:lessThan ex:died ] .
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _shacl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "shacl", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shacl")
    data = _write(folder, "data.ttl", DATA)
    quads = read_rdf(data)
    found = {"data": data, "shapes": _write(folder, "shapes.ttl", SHAPES),
             "good": _write(folder, "good.ttl",
                            PREFIXES + 'ex:c a ex:Person ; ex:age "7"^^xsd:byte .')}
    for suffix, fmt in ((".nt", ox.RdfFormat.N_TRIPLES), (".nq", ox.RdfFormat.N_QUADS),
                        (".trig", ox.RdfFormat.TRIG), (".rdf", ox.RdfFormat.RDF_XML),
                        (".jsonld", ox.RdfFormat.JSON_LD)):
        path = folder / f"data{suffix}"
        ox.serialize(quads, output=str(path), format=fmt)
        found[suffix] = path
    return found


def _components(report) -> Counter:
    return Counter(r.component.rsplit("#", 1)[-1] for r in report.results)


def test_every_core_component_and_literals_as_written(files):
    report = validate_files([files["data"]], [files["shapes"]])
    assert _components(report) == Counter({
        "DatatypeConstraintComponent": 1,  # "300"^^xsd:byte is ill-typed; "42" is a byte
        "MaxInclusiveConstraintComponent": 1, "UniqueLangConstraintComponent": 1,
        "LanguageInConstraintComponent": 1, "InConstraintComponent": 1,
        "LessThanConstraintComponent": 1, "ClosedConstraintComponent": 1})  # ex:died
    values = {r.component.rsplit("#", 1)[-1]: r.value for r in report.results}
    byte = ox.NamedNode("http://www.w3.org/2001/XMLSchema#byte")
    assert values["DatatypeConstraintComponent"] == ox.Literal("300", datatype=byte)
    assert values["InConstraintComponent"] == ox.Literal(
        "01", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))


@pytest.mark.parametrize("suffix", [".nt", ".nq", ".trig", ".rdf", ".jsonld"])
def test_formats_by_extension(files, suffix):
    mine = validate_files([files[suffix]], [files["shapes"]])
    assert _components(mine) == _components(validate_files([files["data"]], [files["shapes"]]))


def test_command_reports_and_exit_codes(files):
    text = _shacl(str(files["data"]), "--shapes", str(files["shapes"]))
    assert text.returncode == 1 and "does not conform: 7 violation(s)" in text.stdout
    assert '"300"^^<http://www.w3.org/2001/XMLSchema#byte>' in text.stdout
    good = _shacl(str(files["good"]), "--shapes", str(files["shapes"]))
    assert good.returncode == 0 and good.stdout.startswith("conforms")
    turtle = _shacl(str(files["data"]), "--shapes", str(files["shapes"]), "--format", "turtle")
    graph = list(ox.parse(turtle.stdout.encode(), format=ox.RdfFormat.TURTLE))
    assert sum(1 for t in graph if t.predicate.value.endswith("#focusNode")) == 7
    jsonld = _shacl(str(files["data"]), "--shapes", str(files["shapes"]), "--format", "jsonld")
    assert jsonld.returncode == 1 and json.loads(jsonld.stdout)


def test_command_input_errors_exit_2(files, tmp_path):
    broken = _write(tmp_path, "broken.ttl", "ex:a ex:b")
    unsupported = _write(tmp_path, "bad.ttl", PREFIXES + "ex:S sh:targetNode ex:a ; "
                         "sh:entailment ex:E .")
    for args, words in (([str(tmp_path / "none.ttl")], "no such file"),
                        ([str(tmp_path / "x.csv")], "unknown RDF format"),
                        ([str(broken)], "broken.ttl"),
                        ([str(files["data"]), "--shapes", str(unsupported)], "sh:entailment")):
        if "--shapes" not in args:
            args = [*args, "--shapes", str(files["shapes"])]
        done = _shacl(*args)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


def test_owl_imports_from_a_catalog_or_refused(files, tmp_path):
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    _write(catalog, "more.ttl", PREFIXES + "<http://example.org/more> a owl:Ontology .\n"
           "ex:Q a sh:NodeShape ; sh:targetClass ex:Person ; "
           "sh:property [ sh:path ex:nickname ; sh:minCount 1 ] .")
    main = _write(tmp_path, "main.ttl", PREFIXES + "<http://example.org/main> owl:imports "
                  "<http://example.org/more> .")
    with pytest.raises(UnsupportedShape, match=r"owl:imports <http://example\.org/more>"):
        shapes_graph([main])
    report = validate_files([files["data"]], [main], catalog)
    assert _components(report) == Counter({"MinCountConstraintComponent": 2})
    refused = _shacl(str(files["data"]), "--shapes", str(main))
    assert refused.returncode == 2 and "cannot be resolved" in refused.stderr


def test_user_sparql_rules_and_time_limit():
    data = list(ox.parse(DATA.encode(), format=ox.RdfFormat.TURTLE))
    for forbidden in ("SERVICE <http://example.org/s> { ?s ?p ?o }", "MINUS { $this ?p 1 }"):
        shapes = parse_shapes(PREFIXES + f'ex:S sh:targetNode ex:a ; sh:sparql [ sh:select '
                              f'"SELECT $this WHERE {{ $this ?p ?o . {forbidden} }}" ] .')
        with pytest.raises(UnsupportedShape):
            validate_rdf(data, shapes)
    target = parse_shapes(PREFIXES + 'ex:S sh:target [ sh:select "SELECT ?this WHERE { '
                          'SERVICE <http://example.org/s> { ?this ?p ?o } }" ] ; '
                          'sh:nodeKind sh:IRI .')
    with pytest.raises(UnsupportedShape, match="SERVICE"):
        validate_rdf(data, target)
    slow = parse_shapes(PREFIXES + 'ex:S sh:targetClass ex:Person ; sh:sparql [ sh:select '
                        '"SELECT $this WHERE { { FILTER(bound($this)) } }" ] .')
    assert len(validate_rdf(data, slow).results) == 2  # pre-bound: one result per focus node
    from fairtracks_ld.validation.engine import validate

    with pytest.raises(SparqlTimeout):
        validate(data, slow, time_limit=0)


CROSS_SHAPES = PREFIXES + """
ex:P a sh:NodeShape ; sh:targetClass ex:Person ;
  sh:property [ sh:path ex:age ; sh:minInclusive 0 ; sh:maxExclusive 150 ;
      sh:datatype xsd:integer ] ,
    [ sh:path ex:name ; sh:minCount 1 ; sh:maxCount 2 ; sh:uniqueLang true ] ,
    [ sh:path ex:friend ; sh:disjoint ex:enemy ; sh:class ex:Person ; sh:maxCount 1 ] ,
    [ sh:path ex:start ; sh:lessThanOrEquals ex:end ] ,
    [ sh:path ex:email ; sh:equals ex:mail ] ,
    [ sh:path ex:friend ; sh:qualifiedValueShape [ sh:path ex:age ; sh:minInclusive 18 ] ;
      sh:qualifiedMinCount 1 ] ,
    [ sh:path ex:knows ; sh:qualifiedValueShape [ sh:path ex:age ; sh:maxInclusive 50 ] ;
      sh:qualifiedMinCount 2 ; sh:qualifiedMaxCount 3 ] ,
    [ sh:path ex:address ; sh:property [ sh:path ex:city ; sh:minLength 2 ] ,
        [ sh:path ex:geo ; sh:property [ sh:path ex:lat ; sh:maxInclusive 80 ] ] ] .
ex:Q a sh:NodeShape ; sh:targetSubjectsOf ex:mail ; sh:closed true ;
  sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ex:age ex:name
    ex:friend ex:enemy ex:knows ex:start ex:end ex:email ex:mail ex:address ) .
"""


def _people(count: int) -> str:
    """People sharing addresses (several routes to a nested shape's focus nodes, two levels
    deep), with enemies rarer than friends (a pair read from its rarer side)."""
    lines = []
    for i in range(count):
        knows = " , ".join(f"ex:p{(i + k) % count}" for k in range(1, 1 + i % 5))
        lines.append(f'ex:p{i} a ex:Person ; ex:age {i * 3 - 10} ; ex:name "n{i}"@en ; '
                     f'ex:friend ex:p{(i + 1) % count} ; ex:start {i % 7} ; ex:end {i % 5} ; '
                     f'ex:email "e{i}" ; ex:mail "e{i - i % 3}" ; ex:address ex:a{i % 7} ' +
                     (f"; ex:knows {knows} " if knows else "") +
                     (f"; ex:enemy ex:p{(i + 1 - i % 2) % count} " if i % 4 == 0 else "") +
                     ('; ex:friend ex:p0 ; ex:nick "x" ' if i % 11 == 5 else "") +
                     (f'; ex:name "m{i}"@en ' if i % 13 == 3 else "") + ".")
    for k in range(7):
        lines.append(f'ex:a{k} ex:city "{"c" * (k % 3)}" ; ex:geo ex:g{k % 3} .')
    lines += [f"ex:g{j} ex:lat {j * 50} ." for j in range(3)]
    return PREFIXES + "\n".join(lines)


@pytest.fixture(scope="module")
def cross() -> tuple[list, Counter]:
    """Generated data and pySHACL's results on it (computed once)."""
    data = list(ox.parse(_people(60).encode(), format=ox.RdfFormat.TURTLE))
    shapes = _rdflib().Graph().parse(data=CROSS_SHAPES, format="turtle")
    theirs = pyshacl_keys(ox.serialize(data, format=ox.RdfFormat.N_TRIPLES), shapes)[0]
    return data, Counter(theirs)


@pytest.mark.parametrize("start", ["counted", "scan", "hash", "focus", "hash capped"])
@pytest.mark.parametrize("routes", ["one by one", "listed"])
def test_core_components_agree_with_pyshacl(cross, monkeypatch, start, routes):
    """Every form of the queries (the engine picks by counts: here also forced to scan the
    paths, with membership tests or hash joins, or to start from the focus nodes, or hashing
    where no hash anti-join may hold its path, as on a large document) and both ways of
    counting the routes to nested focus nodes give pySHACL's results, source shapes
    included."""
    from fairtracks_ld.validation import engine

    if start != "counted":
        monkeypatch.setattr(engine._Stats, "small_focus", lambda *_: start == "focus")
        monkeypatch.setattr(engine._Stats, "_focus_below", lambda *_: start.startswith("hash"))
    if start == "hash capped":
        monkeypatch.setattr(engine, "_HASHED", -1)
    if routes == "listed":
        monkeypatch.setattr(engine, "_ROUTES_ONE_BY_ONE", -1)
    data, theirs = cross
    shapes = parse_shapes(CROSS_SHAPES)
    mine = Counter(engine_keys(validate_rdf(data, shapes), shapes))
    components = {key[2].rsplit("#", 1)[-1] for key in mine}
    assert mine == theirs and len(mine) > 100
    assert {"ClosedConstraintComponent", "QualifiedMaxCountConstraintComponent",
            "QualifiedMinCountConstraintComponent", "DisjointConstraintComponent",
            "MaxCountConstraintComponent", "UniqueLangConstraintComponent",
            "EqualsConstraintComponent", "MaxInclusiveConstraintComponent"} <= components
    repeated = [key for key, n in mine.items() if n > 1 and "MaxInclusive" in key[2]]
    assert repeated  # a nested result reported once per route


def test_max_count_skipped_only_when_no_subject_repeats():
    """sh:maxCount is skipped when the predicate's triples have as many distinct subjects:
    a repeat outside the focus nodes or the same triple in two graphs still runs the query
    (and reports nothing), a repeat on a focus node is reported."""
    from fairtracks_ld.validation.engine import validate

    shapes = parse_shapes(PREFIXES + """
ex:S a sh:NodeShape ; sh:targetClass ex:Person ;
  sh:property [ sh:path ex:tag ; sh:maxCount 1 ] .""")
    ex, graphs = "http://example.org/", [ox.NamedNode("urn:g1"), ox.NamedNode("urn:g2")]

    def quad(s: str, p: str, o: str, graph: ox.NamedNode) -> ox.Quad:
        return ox.Quad(ox.NamedNode(ex + s), ox.NamedNode(p if ":" in p else ex + p),
                       ox.NamedNode(ex + o), graph)

    person = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    store = ox.Store()
    store.extend([quad("a", person, "Person", graphs[0]), quad("a", "tag", "x", graphs[0]),
                  quad("a", "tag", "x", graphs[1]),  # the same triple in another graph
                  quad("b", "tag", "x", graphs[0]), quad("b", "tag", "y", graphs[0])])
    assert validate(store, shapes, graphs=graphs).results == []  # ex:b is no Person
    store.add(quad("b", person, "Person", graphs[1]))
    assert [r.focus.value for r in validate(store, shapes, graphs=graphs).results] == [ex + "b"]
    single = ox.Store()
    single.extend([quad("a", person, "Person", graphs[0]), quad("a", "tag", "x", graphs[0])])
    assert validate(single, shapes).results == []


SHARED_SHAPES = PREFIXES + """
ex:S a sh:NodeShape ; sh:targetClass ex:Person ;
  sh:property [ sh:path ex:code ; sh:pattern "^[a-z]+$" ; sh:datatype xsd:string ;
      sh:maxLength 4 ;
      sh:sparql [ sh:select "SELECT $this ?value WHERE { $this $PATH ?value . FILTER(STRLEN(STR(?value)) > 5) }" ] ,
        [ sh:select "SELECT $this ?value WHERE { $this $PATH ?value . FILTER(CONTAINS(STR(?value), 'x')) }" ] ] .
"""  # noqa: E501


def test_value_constraints_read_shared_values():
    """Where SPARQL constraints share a path's distinct values (materialised in a scratch graph
    of a named-graph store), the value constraints of that path test those values and find
    their focus nodes back: the same results as without the scratch graph, and as pySHACL's
    (a value shared by several focus nodes, and a value also held by a non-focus node)."""
    from fairtracks_ld.validation.engine import validate

    text = PREFIXES + "\n".join(
        [f'ex:p{i} a ex:Person ; ex:code "{code}" .' for i, code in
         enumerate(["abc", "ab1", "ab1", "toolong", "xyz", "abcdefx", 'abc", "Q'])]
        + ['ex:other ex:code "ab1" .'])
    triples = list(ox.parse(text.encode(), format=ox.RdfFormat.TURTLE))
    graph = ox.NamedNode("urn:data")
    store = ox.Store()
    store.extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
    shapes = parse_shapes(SHARED_SHAPES)
    shared = validate(store, shapes, [graph], scratch=True)
    assert list(store.named_graphs()) == [graph]  # the scratch graph is gone
    plain = validate(store, shapes, [graph], scratch=False)
    theirs = pyshacl_keys(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES),
                          _rdflib().Graph().parse(data=SHARED_SHAPES, format="turtle"))[0]
    mine = Counter(engine_keys(shared, shapes))
    assert mine == Counter(engine_keys(plain, shapes)) == Counter(theirs)
    assert {k[2].rsplit("#", 1)[-1] for k in mine} >= {
        "PatternConstraintComponent", "MaxLengthConstraintComponent",
        "SPARQLConstraintComponent"}
