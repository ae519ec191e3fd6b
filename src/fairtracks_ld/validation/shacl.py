"""General SHACL validation: any RDF data against any shapes, from files or parsed triples.

- `read_rdf(path)`: quads of a file, the format chosen by its extension;
- `validate_files(data, shapes, catalog=None) -> Report`: the `fairtracks-ld shacl` command;
- `validate_rdf(quads, shapes) -> Report`: parsed data;
- `shapes_graph(paths, catalog=None)`: shapes files read (owl:imports resolved from a catalog);
- `render_text(report)`: the command's text report (`Report.serialize` gives Turtle / JSON-LD).

Literals are checked as written (`literals`), before Oxigraph stores them in canonical form.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld import heap
from fairtracks_ld.validation.engine import validate
from fairtracks_ld.validation.literals import decode, encode_quads
from fairtracks_ld.validation.report import Report
from fairtracks_ld.validation.shapes import ShapesGraph, UnsupportedShape
from fairtracks_ld.validation.vocab import OWL, RDF

FORMATS = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".owl": ox.RdfFormat.RDF_XML,
    ".xml": ox.RdfFormat.RDF_XML,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".n3": ox.RdfFormat.N3,
}
IMPORTS = OWL + "imports"


class InputError(ValueError):
    """A data or shapes file that cannot be read (missing, unknown format, syntax error)."""


def rdf_format(path: Path) -> ox.RdfFormat:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = " ".join(sorted(FORMATS))
        raise InputError(f"{path}: unknown RDF format (by extension: {known})")
    return fmt


def read_rdf(path: Path | str, base_iri: str | None = None) -> list[ox.Quad]:
    """Every quad of an RDF file (base IRI: the file's URI)."""
    path = Path(path)
    fmt = rdf_format(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    base = base_iri or path.resolve().as_uri()
    try:
        return list(ox.parse(path=str(path), format=fmt, base_iri=base))
    except (SyntaxError, ValueError, OSError) as error:
        raise InputError(f"{path}: {error}") from None


def read_catalog(folder: Path | str) -> dict[str, Path]:
    """A local catalog of ontologies: every RDF file of a folder, by the IRI of each
    `owl:Ontology` it declares (and by its own file URI)."""
    if not Path(folder).is_dir():
        raise InputError(f"{folder}: no such catalog folder")
    catalog: dict[str, Path] = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() not in FORMATS or not path.is_file():
            continue
        catalog[path.resolve().as_uri()] = path
        for quad in read_rdf(path):
            if quad.predicate.value == RDF + "type" and quad.object.value == OWL + "Ontology" \
                    and isinstance(quad.subject, ox.NamedNode):
                catalog[quad.subject.value] = path
    return catalog


def shapes_graph(paths: Iterable[Path | str], catalog: dict[str, Path] | None = None,
                 skip_imports: Collection[str] = ()) -> ShapesGraph:
    """The shapes of files, with their `owl:imports` closure read from `catalog` (IRI →
    file). An import the catalog does not hold is refused (nothing is fetched from the
    network) unless its IRI is named in `skip_imports`."""
    triples: list[ox.Quad] = []
    pending = [Path(p) for p in paths]
    done: set[Path] = set()
    while pending:
        path = pending.pop()
        if path.resolve() in done:
            continue
        done.add(path.resolve())
        quads = read_rdf(path)
        triples.extend(quads)
        for quad in quads:
            if quad.predicate.value != IMPORTS:
                continue
            imported = quad.object.value
            if imported in skip_imports:
                continue
            if catalog is None or imported not in catalog:
                where = "no catalog was given (--catalog)" if catalog is None else \
                    "it is not in the catalog"
                raise UnsupportedShape(f"{path}: owl:imports <{imported}> cannot be resolved: "
                                       f"{where}; shapes are never fetched from the network")
            pending.append(catalog[imported])
    return ShapesGraph(triples)


def validate_files(data: Sequence[Path | str], shapes: Sequence[Path | str],
                   catalog: Path | str | None = None) -> Report:
    """Validate the union of data files against the union of shapes files."""
    graph = shapes_graph(shapes, read_catalog(catalog) if catalog is not None else None)
    return validate_rdf([quad for path in data for quad in read_rdf(path)], graph)


def validate_rdf(data: Iterable[ox.Quad | ox.Triple], shapes: ShapesGraph) -> Report:
    """Validate parsed data (its literals checked as written) against shapes."""
    # the checks allocate an object per quad: collections would only rescan them
    with heap.no_cycle_collection():
        report = validate(encode_quads(data), shapes)
    report.results = [replace(r, focus=decode(r.focus), value=decode(r.value))
                      for r in report.results]
    return report


def _short(term) -> str:
    if term is None:
        return ""
    return f"<{term.value}>" if isinstance(term, ox.NamedNode) else str(term)


def render_text(report: Report, per_shape: int = 10) -> str:
    """A human summary: the verdict, then each result (`per_shape` per shape and component;
    the rest counted)."""
    counts = {name: sum(1 for r in report.results if r.severity_name == name)
              for name in ("Violation", "Warning", "Info")}
    verdict = "conforms" if report.conforms else "does not conform"
    lines = [f"{verdict}: {counts['Violation']} violation(s), {counts['Warning']} warning(s), "
             f"{counts['Info']} info(s)"]
    shown: dict[tuple, int] = defaultdict(int)
    for result in report.results:
        group = (result.severity_name, str(result.source_shape), result.component)
        shown[group] += 1
        if shown[group] > per_shape:
            continue
        path = f" {result.path.sparql()}" if result.path is not None else ""
        value = f" (value: {_short(result.value)})" if result.value is not None else ""
        what = result.message or result.component.rsplit("#", 1)[-1]
        lines.append(f"  {result.severity_name.lower()} {_short(result.focus)}{path}: "
                     f"{what}{value}")
    for (severity, shape, component), count in shown.items():
        if count > per_shape:
            lines.append(f"  … and {count - per_shape} more {severity.lower()}s of "
                         f"{component.rsplit('#', 1)[-1]} from shape {shape}")
    return "\n".join(lines) + "\n"
