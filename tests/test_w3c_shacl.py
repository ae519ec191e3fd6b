"""The W3C SHACL test suite (vendored in tests/w3c/shacl: core and SHACL-SPARQL), every test run
through the library API (`fairtracks_ld.validation.shacl`).

Result sets are compared exactly: (focusNode, resultPath, value, sourceConstraintComponent,
sourceShape, resultSeverity) per result, blank nodes up to isomorphism (messages and details are
not compared), and sh:conforms. A test expecting `sht:Failure` passes when the engine refuses the
shapes with `UnsupportedShape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from rdflib import RDF, BNode, Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import graph_diff, isomorphic, to_isomorphic

from fairtracks_ld.validation.crosscheck import _rdflib
from fairtracks_ld.validation.shacl import read_rdf, shapes_graph, validate_rdf
from fairtracks_ld.validation.shapes import UnsupportedShape

ROOT = Path(__file__).parent / "w3c" / "shacl"
# owl:imports of the suite: one test imports its own file; DASH is not needed by any test
CATALOG = {"http://datashapes.org/sh/tests/sparql/node/prefixes-001.test":
           ROOT / "sparql" / "node" / "prefixes-001.ttl"}
SKIPPED_IMPORTS = {"http://datashapes.org/dash"}
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")
SH = Namespace("http://www.w3.org/ns/shacl#")
COMPARED = (SH.focusNode, SH.value, SH.sourceConstraintComponent, SH.sourceShape,
            SH.resultSeverity)


@dataclass(frozen=True)
class Case:
    name: str
    manifest: Path
    entry: URIRef
    data: Path
    shapes: Path


def _path(iri) -> Path:
    return Path(unquote(urlparse(str(iri)).path))


def _parse(path: Path) -> Graph:
    _rdflib()  # keep lexical forms as written
    return Graph().parse(path, format="turtle", publicID=path.resolve().as_uri())


def _cases(manifest: Path) -> list[Case]:
    graph = _parse(manifest)
    found = []
    for included in sorted(graph.objects(None, MF.include)):
        found += _cases(_path(included))
    for entries in graph.objects(None, MF.entries):
        for entry in Collection(graph, entries):
            if (entry, RDF.type, SHT.Validate) not in graph:
                continue
            action = graph.value(entry, MF.action)
            name = str(manifest.parent.relative_to(ROOT) / str(entry).rsplit("/", 1)[-1])
            found.append(Case(name, manifest, entry, _path(graph.value(action, SHT.dataGraph)),
                              _path(graph.value(action, SHT.shapesGraph))))
    return found


CASES = _cases(ROOT / "core" / "manifest.ttl") + _cases(ROOT / "sparql" / "manifest.ttl")


def _copy(graph: Graph, node, out: Graph) -> None:
    """A blank node's description (paths are blank-node structures), recursively."""
    if isinstance(node, BNode):
        for predicate, value in graph.predicate_objects(node):
            out.add((node, predicate, value))
            _copy(graph, value, out)


def _results(graph: Graph, report) -> Graph:
    """The compared part of a report's results."""
    out = Graph()
    for result in graph.objects(report, SH.result):
        node = BNode()
        out.add((node, RDF.type, SH.ValidationResult))
        for predicate in COMPARED:
            for value in graph.objects(result, predicate):
                out.add((node, predicate, value))
        for path in graph.objects(result, SH.resultPath):
            out.add((node, SH.resultPath, path))
            _copy(graph, path, out)
    return out


def _nt(graph: Graph) -> str:
    return "\n".join(sorted(line for line in graph.serialize(format="nt").splitlines() if line))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_w3c(case: Case) -> None:
    manifest = _parse(case.manifest)
    expected = manifest.value(case.entry, MF.result)
    if expected == SHT.Failure:
        with pytest.raises(UnsupportedShape) as refused:
            validate_rdf(read_rdf(case.data), shapes_graph([case.shapes], CATALOG, SKIPPED_IMPORTS))
        assert str(refused.value)
        return
    shapes = shapes_graph([case.shapes], CATALOG, SKIPPED_IMPORTS)
    report = validate_rdf(read_rdf(case.data), shapes)
    actual = Graph().parse(data=report.serialize(), format="turtle")
    actual_report = actual.value(None, RDF.type, SH.ValidationReport, any=True)
    mine, theirs = _results(actual, actual_report), _results(manifest, expected)
    if not isomorphic(mine, theirs):
        _, only_mine, only_theirs = graph_diff(to_isomorphic(mine), to_isomorphic(theirs))
        pytest.fail(f"results differ\nonly ours:\n{_nt(only_mine)}\n"
                    f"only expected:\n{_nt(only_theirs)}")
    conforms = manifest.value(expected, SH.conforms)
    assert report.conforms == conforms.toPython()


def test_every_suite_test_is_collected():
    assert len([c for c in CASES if c.name.startswith("core")]) == 98
    assert len([c for c in CASES if c.name.startswith("sparql")]) == 22
