"""Validation results and the W3C `sh:ValidationReport` they form (Turtle or JSON-LD)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from fairtracks_ld.validation.shapes import PropertyPath, Term
from fairtracks_ld.validation.vocab import FT, FTS, RDF, SH, XSD

VIOLATION, WARNING, INFO = SH + "Violation", SH + "Warning", SH + "Info"


@dataclass(frozen=True)
class ValidationResult:
    """One `sh:ValidationResult`."""

    focus: Term
    path: PropertyPath | None
    value: Term | None
    component: str
    severity: str
    source_shape: Term
    message: str | None = None

    @property
    def severity_name(self) -> str:
        return self.severity.rsplit("#", 1)[-1]

    def key(self) -> tuple:
        """What two engines must agree on."""
        return (str(self.focus), self.path, self.component, self.severity,
                str(self.value) if self.value is not None else None)


@dataclass
class Report:
    """The results of validating one data graph against one shapes graph."""

    results: list[ValidationResult] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        """W3C: no result at all (warnings included)."""
        return not self.results

    @property
    def violations(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity == VIOLATION]

    @property
    def warnings(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity == WARNING]

    @property
    def valid(self) -> bool:
        """FAIRtracks verdict: no violation (warnings allowed)."""
        return not self.violations

    # -- W3C report ---------------------------------------------------------------------------

    def triples(self) -> Iterator[ox.Triple]:
        report = ox.BlankNode()
        yield ox.Triple(report, ox.NamedNode(RDF + "type"), ox.NamedNode(SH + "ValidationReport"))
        yield ox.Triple(report, ox.NamedNode(SH + "conforms"),
                        ox.Literal("true" if self.conforms else "false",
                                   datatype=ox.NamedNode(XSD + "boolean")))
        for result in self.results:
            node = ox.BlankNode()
            yield ox.Triple(report, ox.NamedNode(SH + "result"), node)
            yield ox.Triple(node, ox.NamedNode(RDF + "type"), ox.NamedNode(SH + "ValidationResult"))
            yield ox.Triple(node, ox.NamedNode(SH + "focusNode"), result.focus)
            if result.path is not None:
                path_node, path_triples = _path_rdf(result.path)
                yield ox.Triple(node, ox.NamedNode(SH + "resultPath"), path_node)
                yield from path_triples
            if result.value is not None:
                yield ox.Triple(node, ox.NamedNode(SH + "value"), result.value)
            yield ox.Triple(node, ox.NamedNode(SH + "sourceConstraintComponent"),
                            ox.NamedNode(result.component))
            yield ox.Triple(node, ox.NamedNode(SH + "sourceShape"), result.source_shape)
            yield ox.Triple(node, ox.NamedNode(SH + "resultSeverity"),
                            ox.NamedNode(result.severity))
            if result.message:
                yield ox.Triple(node, ox.NamedNode(SH + "resultMessage"),
                                ox.Literal(result.message))

    def serialize(self, fmt: ox.RdfFormat = ox.RdfFormat.TURTLE) -> bytes:
        """The report as RDF (Turtle by default; JSON-LD with `ox.RdfFormat.JSON_LD`)."""
        prefixes = {"sh": SH, "ft": FT, "fts": FTS, "xsd": XSD}
        output = ox.serialize(self.triples(), format=fmt, prefixes=prefixes)
        return output if output is not None else b""


def _path_rdf(path: PropertyPath) -> tuple[Term, list[ox.Triple]]:
    """A property path as SHACL's RDF form (IRIs, lists and blank nodes)."""
    if path.kind == "iri":
        return ox.NamedNode(path.iri or ""), []
    triples: list[ox.Triple] = []
    if path.kind in ("sequence", "alternative"):
        head: Term = ox.NamedNode(RDF + "nil")
        for item in reversed(path.items):
            item_node, item_triples = _path_rdf(item)
            triples += item_triples
            cell = ox.BlankNode()
            triples += [ox.Triple(cell, ox.NamedNode(RDF + "first"), item_node),
                        ox.Triple(cell, ox.NamedNode(RDF + "rest"), head)]
            head = cell
        if path.kind == "sequence":
            return head, triples
        node = ox.BlankNode()
        triples.append(ox.Triple(node, ox.NamedNode(SH + "alternativePath"), head))
        return node, triples
    inner, inner_triples = _path_rdf(path.items[0])
    node = ox.BlankNode()
    predicate = {"inverse": "inversePath", "zeroOrMore": "zeroOrMorePath",
                 "oneOrMore": "oneOrMorePath", "zeroOrOne": "zeroOrOnePath"}[path.kind]
    return node, [*inner_triples, ox.Triple(node, ox.NamedNode(SH + predicate), inner)]
