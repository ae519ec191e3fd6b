"""Write one ontology module as gzip-compressed Turtle.

Hand-written rather than via rdflib's serializer: it streams, is fast on 100k+ triples and is
byte-for-byte deterministic (sorted terms and values, gzip mtime 0), so rebuilding from the same
sources gives the same sha256 and git sees no churn. The output is checked by parsing it with
pyoxigraph in `bundle`.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from .iris import iri_prefix
from .model import OntologyData, Term
from .vocab import (
    DCTERMS,
    HIERARCHICAL_PARENT,
    IAO_DEFINITION,
    IAO_REPLACED_BY,
    OBOINOWL_ALT_ID,
    OBOINOWL_CONSIDER,
    OWL_EQUIVALENT_CLASS,
    PART_OF,
    RDFS_COMMENT,
    RDFS_LABEL,
    RDFS_SUBCLASS_OF,
    SYNONYM_PREDICATES,
    TURTLE_PREFIXES,
)

_LOCAL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL = re.compile(r'[\\"\n\r\t\x00-\x1f\x7f]')


@dataclass(frozen=True)
class ModuleHeader:
    """What the owl:Ontology header of a module says."""

    ontology_iri: str
    version_iri: str | None
    version: str | None
    title: str | None
    licence_url: str | None
    source: str
    comment: str


@dataclass
class ModuleCounts:
    """Counts over the classes written; mirrored into the manifest and checked by the tests."""

    classes: int = 0
    obsolete: int = 0
    with_parents: int = 0
    with_label: int = 0
    is_a: int = 0
    part_of: int = 0
    hierarchical_parent: int = 0
    equivalent: int = 0
    synonyms: int = 0
    classes_by_prefix: dict[str, int] = field(default_factory=dict)

    def add(self, term: Term) -> None:
        self.classes += 1
        self.obsolete += term.obsolete
        self.with_parents += term.has_parents
        self.with_label += term.label is not None
        self.is_a += len(term.is_a)
        self.part_of += len(term.part_of)
        self.hierarchical_parent += len(term.broader)
        self.equivalent += len(term.equivalents)
        self.synonyms += len(term.synonyms)
        prefix = iri_prefix(term.iri)
        self.classes_by_prefix[prefix] = self.classes_by_prefix.get(prefix, 0) + 1


def write_module(data: OntologyData, header: ModuleHeader, path: Path) -> ModuleCounts:
    """Write `data` as gzipped Turtle to `path`; return the counts of what was written."""
    counts = ModuleCounts()
    buffer = io.StringIO()
    for prefix, namespace in TURTLE_PREFIXES.items():
        buffer.write(f"@prefix {prefix}: <{namespace}> .\n")
    buffer.write("\n")
    _write_header(buffer, header)
    for iri in sorted(data.terms):
        term = data.terms[iri]
        _write_term(buffer, term)
        counts.add(term)
    counts.classes_by_prefix = dict(sorted(counts.classes_by_prefix.items()))
    payload = buffer.getvalue().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as compressed,
    ):
        compressed.write(payload)
    return counts


def _write_header(out: io.StringIO, header: ModuleHeader) -> None:
    lines = [f"{_iri(header.ontology_iri)} a owl:Ontology"]
    if header.version_iri:
        lines.append(f"owl:versionIRI {_iri(header.version_iri)}")
    if header.version:
        lines.append(f"owl:versionInfo {_literal(header.version)}")
    if header.title:
        lines.append(f"dcterms:title {_literal(header.title)}")
    if header.licence_url:
        lines.append(f"dcterms:license {_iri(header.licence_url)}")
    lines.append(f"{_iri(DCTERMS + 'source')} {_literal(header.source)}")
    lines.append(f"rdfs:comment {_literal(header.comment)}")
    out.write(" ;\n    ".join(lines) + " .\n\n")


def _write_term(out: io.StringIO, term: Term) -> None:
    statements = ["a owl:Class"]
    if term.label is not None:
        statements.append(f"{_iri(RDFS_LABEL)} {_literal(term.label)}")
    if term.definition:
        statements.append(f"{_iri(IAO_DEFINITION)} {_literal(term.definition)}")
    by_predicate: dict[str, list[str]] = {}
    for synonym in sorted(term.synonyms, key=lambda s: s.sort_key()):
        by_predicate.setdefault(SYNONYM_PREDICATES[synonym.scope], []).append(
            _literal(synonym.text)
        )
    for predicate in sorted(by_predicate):
        statements.append(f"{_iri(predicate)} {' , '.join(by_predicate[predicate])}")
    if term.obsolete:
        statements.append("owl:deprecated true")
    _objects(statements, IAO_REPLACED_BY, term.replaced_by)
    _objects(statements, OBOINOWL_CONSIDER, term.consider)
    if term.alt_ids:
        literals = " , ".join(_literal(a) for a in sorted(term.alt_ids))
        statements.append(f"{_iri(OBOINOWL_ALT_ID)} {literals}")
    parents = [_iri(p) for p in sorted(term.is_a)]
    parents += [
        f"[ a owl:Restriction ; owl:onProperty {_iri(PART_OF)} ; owl:someValuesFrom {_iri(p)} ]"
        for p in sorted(term.part_of)
    ]
    if parents:
        statements.append(f"{_iri(RDFS_SUBCLASS_OF)} {' , '.join(parents)}")
    _objects(statements, HIERARCHICAL_PARENT, term.broader)
    _objects(statements, OWL_EQUIVALENT_CLASS, term.equivalents)
    for comment in term.comments:
        statements.append(f"{_iri(RDFS_COMMENT)} {_literal(comment)}")
    out.write(f"{_iri(term.iri)} " + " ;\n    ".join(statements) + " .\n\n")


def _objects(statements: list[str], predicate: str, iris: list[str]) -> None:
    if iris:
        statements.append(f"{_iri(predicate)} {' , '.join(_iri(i) for i in sorted(iris))}")


def _iri(iri: str) -> str:
    """A prefixed name where that is safe, else an <IRIREF> with forbidden characters encoded."""
    for prefix, namespace in TURTLE_PREFIXES.items():
        if iri.startswith(namespace) and _LOCAL_NAME.match(iri[len(namespace) :]):
            return f"{prefix}:{iri[len(namespace) :]}"
    return "<" + _IRI_FORBIDDEN.sub(lambda m: f"%{ord(m.group(0)):02X}", iri) + ">"


def _literal(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        return _STRING_ESCAPES.get(char) or f"\\u{ord(char):04X}"

    return '"' + _CONTROL.sub(escape, text) + '"'
