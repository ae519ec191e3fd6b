"""Pick the reader for a source by its file name (and, for .owl/.xml, its first element)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from .closure import read_closure
from .model import OntologyData, OntologySourceError
from .ncit import read_schema_ncit
from .obo import read_obo
from .owlxml import read_owlxml
from .rdf import read_rdf

FORMATS = ("obo", "rdfxml", "turtle", "ntriples", "owlxml", "closure-json", "fairtracks-schemas")
_ROOT_ELEMENT = re.compile(rb"<(?!\?|!)(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def detect_format(path: Path) -> str:
    """One of `FORMATS`, from the name; XML-ish files are told apart by their root element."""
    if path.is_dir():
        if any(path.rglob("*.schema.json")):
            return "fairtracks-schemas"
        raise OntologySourceError(path, "a folder source must hold FAIRtracks *.schema.json files")
    if not path.is_file():
        raise OntologySourceError(path, "no such file")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".obo"):
        return "obo"
    if name.endswith((".json", ".json.zst")):
        return "closure-json"
    if name.endswith(".ttl"):
        return "turtle"
    if name.endswith(".nt"):
        return "ntriples"
    if name.endswith((".owl", ".rdf", ".xml", ".owx")):
        return _sniff(path)
    raise OntologySourceError(
        path,
        "unknown ontology file type (expected .obo, .owl, .rdf, "
        ".owx, .ttl, .nt, .json or .json.zst)",
    )


def _sniff(path: Path) -> str:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        head = handle.read(65536)
    text = re.sub(rb"<!--.*?-->", b"", head, flags=re.S).lstrip()
    if not text.startswith(b"<"):
        return "turtle"  # OWL files saved as Turtle/Manchester keep the .owl suffix
    match = _ROOT_ELEMENT.search(text)
    if match and match.group(1) == b"Ontology":
        return "owlxml"
    return "rdfxml"


def read_source(path: Path, source_format: str | None = None) -> OntologyData:
    """Read any supported source into the common term model."""
    source_format = source_format or detect_format(path)
    if source_format == "obo":
        return read_obo(path)
    if source_format == "closure-json":
        return read_closure(path)
    if source_format == "owlxml":
        return read_owlxml(path)
    if source_format == "fairtracks-schemas":
        return read_schema_ncit(path)
    if source_format in ("rdfxml", "turtle", "ntriples"):
        return read_rdf(path, source_format)
    raise OntologySourceError(path, f"unknown source format {source_format!r}")
