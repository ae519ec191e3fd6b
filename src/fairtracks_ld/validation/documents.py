"""Validate FAIRtracks documents: files in, per-document reports out (what the CLI prints).

`validate_documents(paths, store)` reads, maps and validates each document against the shapes,
with the store's current view (other documents, ontologies, closure) as context; without a store
the ontologies come from the shipped bundle. Each result carries the source file, a JSON Pointer
into the original document, the schema rule, the offending value and a message. Exit code: 0 when
every document is valid (warnings allowed), 1 otherwise (`exit_code`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from fairtracks_ld.mapping.iris import default_base_iri, local_id_of
from fairtracks_ld.mapping.models import AUTO, ENSEMBL, detect, prepare_document
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.mapping.prepare import MappingError, Prepared
from fairtracks_ld.sources import DEFAULT_LIMITS, DocumentError, DocumentReader, ReadLimits
from fairtracks_ld.standard import ENTITY_ARRAYS, Variant, iter_props
from fairtracks_ld.validation import findings, presentation
from fairtracks_ld.validation.context import (
    OntologySource,
    add_context,
    build_dataset,
    bundled_ontologies,
    context_quads,
    store_ontologies,
)
from fairtracks_ld.validation.engine import TIME_LIMIT, validate
from fairtracks_ld.validation.ensembl_pointers import EnsemblPointers
from fairtracks_ld.validation.ensembl_shapes import ensembl_shapes
from fairtracks_ld.validation.graphs import DataGraph, data_graph
from fairtracks_ld.validation.pointers import PointerResolver
from fairtracks_ld.validation.report import VIOLATION, Report, ValidationResult
from fairtracks_ld.validation.shapes import ShapesGraph, default_shapes
from fairtracks_ld.validation.vocab import SCHEMA_RULE, STANDARD

if TYPE_CHECKING:
    from fairtracks_ld.store import TrackStore

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
SCRATCH_CHUNK_BYTES = 1 << 20  # JSON-LD per chunk of `Validator.streamed`: ~600 tracks
RDF_FIRST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#first"
_REF_PREDICATES = {FT + prop.key for _, prop in iter_props() if prop.kind == "ref"}


@dataclass
class Finding:
    """One problem, in the words of the JSON document."""

    severity: str  # Violation | Warning | Info
    pointer: str
    message: str
    value: Any = None
    rules: list[str] = field(default_factory=list)  # schema keywords (file#pointer)
    standard: bool = True  # a JSON Schema rule (False: FAIRtracks extension or advice)
    focus_node: str | None = None
    result_path: str | None = None
    component: str | None = None
    shape: str | None = None
    hint: str | None = None  # how to fix it, when the presentation knows better than the rule
    consequences: list[Finding] = field(default_factory=list)  # findings this one causes

    def to_json(self) -> dict[str, Any]:
        found = {
            "severity": self.severity, "pointer": self.pointer, "message": self.message,
            "value": self.value, "rules": self.rules, "standard": self.standard,
            "focus_node": self.focus_node, "result_path": self.result_path,
            "component": self.component, "shape": self.shape,
            "also_causes": [f.to_json() for f in self.consequences],
        }
        if self.hint:
            found["hint"] = self.hint
        return found

    def item(self) -> findings.Item:
        """This finding (and those it causes) for grouping (`fairtracks_ld.validation.findings`)."""
        return findings.Item(self.severity.lower(), self.pointer, self.message,
                             self.shape or (self.rules[0] if self.rules else ""), self.value,
                             tuple(f.item() for f in self.consequences))


@dataclass
class DocumentReport:
    """The validation of one document."""

    source: str
    findings: list[Finding] = field(default_factory=list)
    variant: str | None = None
    graph: str | None = None  # the version graph the document maps to
    report: Report | None = None  # the SHACL report (None when the document could not be mapped)

    @property
    def valid(self) -> bool:
        return not any(f.severity == "Violation" for f in self.findings)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "Violation"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "Warning"]

    def to_json(self) -> dict[str, Any]:
        return {"file": self.source, "variant": self.variant, "valid": self.valid,
                "violations": len(self.violations), "warnings": len(self.warnings),
                "graph": self.graph, "results": [f.to_json() for f in self.findings]}

    def summary(self, limit: int = 3) -> str:
        """One line for a refusal: the number of violations and the first few."""
        shown = "; ".join(f"{f.pointer or '/'}: {f.message}" for f in self.violations[:limit])
        more = len(self.violations) - limit
        return (f"{len(self.violations)} violation(s): {shown}"
                + (f"; … and {more} more" if more > 0 else ""))

    def items(self) -> list[findings.Item]:
        """The findings for grouping (`fairtracks_ld.validation.findings`): one kind per shape."""
        return [f.item() for f in self.findings]

    def shacl_report(self, fmt: ox.RdfFormat = ox.RdfFormat.TURTLE) -> bytes:
        """The W3C sh:ValidationReport (empty when the document could not be mapped)."""
        return (self.report or Report()).serialize(fmt)


def exit_code(reports: Iterable[DocumentReport]) -> int:
    """0 when every document is valid (warnings allowed), 1 when any is invalid."""
    return EXIT_VALID if all(r.valid for r in reports) else EXIT_INVALID


# ---- validating -------------------------------------------------------------------------------


class Validator:
    """Validates documents against their model's shapes and one store (or the bundled
    ontologies); `shapes`, when given, are used for every document.

    Reuse it for a batch: the shapes are compiled and the ontologies opened once.
    """

    def __init__(self, store: TrackStore | None = None, shapes: ShapesGraph | None = None,
                 ontologies: OntologySource | None = None) -> None:
        self.store = store
        self.fixed_shapes = shapes is not None
        self.shapes = shapes or default_shapes()
        self._ontologies = ontologies
        self.base = store.base if store is not None else default_base_iri()

    @cached_property
    def ontologies(self) -> OntologySource:
        """The store's ontologies, else the shipped bundle (read when a rule first needs them:
        Ensembl tracks name no ontology)."""
        return self._ontologies or (store_ontologies(self.store) if self.store else None) \
            or bundled_ontologies()

    @property
    def time_limit(self) -> float | None:
        """No time limit for the shipped shapes: their SPARQL runs per focus node, so its time
        grows with the document (a 100k-track document needs minutes on a busy machine);
        shapes given by the caller keep the engine's limit."""
        return TIME_LIMIT if self.fixed_shapes else None

    def shapes_for(self, model: str) -> ShapesGraph:
        """The shapes a document of `model` is checked against."""
        return ensembl_shapes() if model == ENSEMBL and not self.fixed_shapes else self.shapes

    def document(self, document: Any, source: str = "<document>",
                 variant: Variant | None = None, model: str = AUTO) -> DocumentReport:
        """Map (as `model`, or the model it has the shape of) and validate one JSON document."""
        try:
            prepared = prepare_document(document, self.base, model, variant)
        except MappingError as error:
            return self.unmappable(document, source, error, model)
        return self.prepared(prepared, document, source)

    def streamed(self, document: Any, source: str = "<document>",
                 scratch: ox.Store | None = None) -> DocumentReport:
        """Validate a parsed document as `document` does, faster: it is mapped entity by entity
        in a worker thread while the chunks already mapped load into the default graph of a
        scratch store (Oxigraph loads without holding the interpreter lock, so both run at
        once). `scratch`: that store, empty, when the caller frees it (dropping a 10k-track
        document's quads takes a tenth of a second) after it has sent the answer."""
        from fairtracks_ld.mapping.stream import DocumentStream, MemoryReader

        data = ox.Store() if scratch is None else scratch
        try:
            mapped = DocumentStream(MemoryReader(source, document), self.base,
                                    chunk_bytes=SCRATCH_CHUNK_BYTES, ahead=2,
                                    links=self.fixed_shapes)
            for chunk in mapped.chunks():
                data.load(chunk, format=ox.RdfFormat.N_TRIPLES, lenient=True)
        except DocumentError:  # it cannot be mapped so: the whole-document path words why
            return self.document(document, source)
        return self.written(data, None, mapped.prepared, source, document, scratch=True)

    def unmappable(self, document: Any, source: str, error: MappingError,
                   model: str = AUTO) -> DocumentReport:
        """The report of a document that cannot be given IRIs. An Ensembl track whose IRI
        cannot be minted is still checked in full (under a placeholder IRI, never stored), so
        that every key it lacks is reported, the refusal under the finding it comes from."""
        refusal = mapping_failure(source, error)
        try:
            if model not in (AUTO, ENSEMBL) or detect(document) != ENSEMBL:
                return refusal
            from fairtracks_ld.mapping.ensembl import prepare_ensembl

            checked = self.prepared(prepare_ensembl(document, self.base, provisional=True),
                                    document, source)
        except MappingError:
            return refusal
        [refused] = refusal.findings
        cause = next((f for f in checked.findings if f.severity == "Violation" and (
            refused.pointer == f.pointer or refused.pointer.startswith(f.pointer + "/"))), None)
        if cause is None:
            return DocumentReport(source, [refused, *checked.findings], ENSEMBL)
        cause.consequences.append(refused)
        return DocumentReport(source, checked.findings, ENSEMBL)

    def prepared(self, prepared: Prepared, document: Any = None,
                 source: str = "<document>") -> DocumentReport:
        """Validate a mapped document (`document`, the JSON, only improves list pointers)."""
        data = ox.Store()
        data.bulk_load(prepared.ntriples(), format=ox.RdfFormat.N_TRIPLES, lenient=True)
        return self.written(data, None, prepared, source, document, scratch=True)

    def written(self, data: ox.Store, graph: str | None, prepared: Prepared, source: str,
                document: Any = None, reader: DocumentReader | None = None,
                scratch: bool = False) -> DocumentReport:
        """Validate a document as written to `graph` of `data` (the store being loaded, before
        the catalog makes the graph visible, or a scratch store; None: a scratch store's
        default graph): the context facts its rules need are added to the graph for the run
        and removed afterwards (unless `data` is a `scratch` store, thrown away after the
        run). List pointers are read from `document`, or from the source again through
        `reader` (only when a result needs one, and only the entities it names)."""
        shapes = self.shapes_for(prepared.model)
        node = data_graph(graph)
        ontologies = None if prepared.model == ENSEMBL else self.ontologies
        facts: list[ox.Quad] = []  # removed afterwards
        if scratch:
            add_context([prepared], data, node, shapes, self.store, ontologies)
        else:
            facts = context_quads([prepared], data, node, shapes, self.store, ontologies)
            data.extend(facts)
            data.flush()  # out of RocksDB's write buffers (engine._share says why)
        try:
            report = validate(data, shapes, [node], scratch=True, time_limit=self.time_limit)
            if prepared.model == ENSEMBL:  # one small track: read whole
                if document is None and reader is not None:
                    document = reader.read()
                resolver: PointerResolver | EnsemblPointers = EnsemblPointers(document)
            else:
                resolver = PointerResolver(data, prepared, document, node)
                if document is None and reader is not None:
                    resolver.document = listed_entities(reader, resolver, report.results)
            findings = [self.finding(r, resolver, data, node, shapes) for r in report.results]
        finally:
            for quad in facts:
                data.remove(quad)
            if facts:
                data.flush()
        document = resolver.document
        if document is None and reader is not None and (arrays := presentation.wanted(findings)):
            document = reader.pick(arrays, frozenset(ENTITY_ARRAYS))
        findings = presented(findings, document, prepared.variant)
        return DocumentReport(source, findings, prepared.variant, prepared.graph, report)

    def batch(self, items: list[tuple[Prepared, Any, str]]) -> list[DocumentReport]:
        """Validate mapped documents of distinct collections together, as if loaded together
        (one dataset, one pass of the shapes: much cheaper for many small documents)."""
        if len(items) == 1:
            return [self.prepared(*items[0])]
        scopes = [_scope(prepared) for prepared, _, _ in items]
        if len(set(scopes)) != len(scopes):
            raise ValueError("documents validated together need distinct collections")
        models = {prepared.model for prepared, _, _ in items}
        if len(models) != 1:
            raise ValueError("documents validated together must be of one model")
        model = models.pop()
        shapes = self.shapes_for(model)
        dataset = build_dataset([p for p, _, _ in items], shapes, self.store,
                                None if model == ENSEMBL else self.ontologies)
        graph = ox.NamedNode(dataset.graph)
        report = validate(dataset.store, shapes, [graph], scratch=True,
                          time_limit=self.time_limit)
        resolvers = [EnsemblPointers(document) if prepared.model == ENSEMBL
                     else PointerResolver(dataset.store, prepared, document, dataset.graph)
                     for prepared, document, _ in items]
        owners = {scope: index for index, scope in enumerate(scopes)}
        per_document: list[list[ValidationResult]] = [[] for _ in items]
        for result in report.results:
            node = result.focus.value.partition("#")[0]  # {collection}[/{kind}/{local_id}]
            owner = owners.get(node)
            if owner is None:
                owner = owners.get(node.rsplit("/", 2)[0], 0)
            per_document[owner].append(result)
        reports = []
        for (prepared, _, source), resolver, results in zip(items, resolvers, per_document,
                                                            strict=True):
            findings = [self.finding(r, resolver, dataset.store, graph, shapes) for r in results]
            findings = presented(findings, resolver.document, prepared.variant)
            reports.append(DocumentReport(source, findings, prepared.variant, prepared.graph,
                                          Report(results)))
        return reports

    def finding(self, result: ValidationResult, resolver: PointerResolver | EnsemblPointers,
                data: ox.Store | None = None, graph: DataGraph | None = None,
                shapes: ShapesGraph | None = None) -> Finding:
        shapes = shapes or self.shapes
        shape = result.source_shape
        rules = [t.value for t in shapes.values(shape, SCHEMA_RULE)]
        standard = shapes.value(shape, STANDARD)
        value = _json_value(result)
        if value is None and data is not None and result.component.endswith(
                "#MaxCountConstraintComponent") and result.path and result.path.kind == "iri":
            # "a value of the wrong type": show the value the document holds
            for quad in data.quads_for_pattern(result.focus, ox.NamedNode(result.path.iri or ""),
                                               None, graph):
                value = _json_value(ValidationResult(result.focus, result.path, quad.object,
                                                     result.component, result.severity, shape))
                break
        message = result.message or result.component.rsplit("#", 1)[-1]
        if isinstance(result.value, ox.NamedNode) and value != result.value.value:
            message = message.replace(result.value.value, str(value))
        literal = result.value if isinstance(result.value, ox.Literal) else None
        return Finding(
            severity=result.severity_name,
            pointer=resolver.pointer(result.focus.value, result.path, literal),
            message=message, value=value, rules=rules,
            standard=standard is None or standard.value == "true",
            focus_node=str(result.focus.value),
            result_path=result.path.sparql() if result.path else None,
            component=result.component, shape=str(shape.value),
        )


def _json_value(result: ValidationResult) -> Any:
    """The offending value as the document wrote it (a reference as its local_id)."""
    value = result.value
    if value is None or value == result.focus:
        return None
    if isinstance(value, ox.Literal):
        datatype = value.datatype.value
        if datatype.endswith("#boolean"):
            return value.value == "true"
        if datatype.endswith(("#integer", "#double", "#decimal")):
            number = float(value.value)
            return int(number) if datatype.endswith("#integer") else number
        if value.datatype.value.endswith("#JSON"):
            try:
                return json.loads(value.value)
            except ValueError:
                return value.value
        return value.value
    path = result.path
    if path is not None and path.kind == "iri" and path.iri in _REF_PREDICATES:
        return local_id_of(value.value)
    return value.value


def _scope(prepared: Prepared) -> str:
    """The IRI every node of a document starts with: its collection (FAIRtracks) or, for an
    Ensembl track, the track (tracks of one release share a collection)."""
    return prepared.document_iri if prepared.model == ENSEMBL else prepared.collection_iri


def presented(found: list[Finding], document: Any, variant: str | None) -> list[Finding]:
    """The findings as reports give them: sorted, grouped and worded (validation.presentation)
    with the document's values at hand."""
    return _sorted(presentation.present(_sorted(found), document, variant))


def _sorted(found: list[Finding]) -> list[Finding]:
    """Most severe first, then in document order."""
    order = {"Violation": 0, "Warning": 1, "Info": 2}
    return sorted(found, key=lambda f: (order.get(f.severity, 3), _pointer_key(f.pointer)))


def _pointer_key(pointer: str) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in pointer.split("/")]


def validate_documents(
    paths: Iterable[str], store: TrackStore | None = None, variant: Variant | None = None,
    shapes: ShapesGraph | None = None, model: str = AUTO,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[DocumentReport]:
    """Read, map and validate every document of `paths` (files, folders, '-'), each as `model`
    or, by default, as the model it has the shape of. Each is read and mapped entity by entity
    into a scratch store on disk (in the temporary folder, `TMPDIR`; removed afterwards), so
    memory stays as bounded as a load's whatever the document's size (the user's store is
    only read)."""
    from fairtracks_ld.sources import expand_sources

    validator = Validator(store, shapes)
    reports = []
    for source in expand_sources(paths):
        try:
            reports.append(_validate_source(validator, source, variant, model, limits))
        except DocumentError as error:
            if isinstance(error.__cause__, MappingError):
                reports.append(_unmappable(validator, source, error.__cause__, model, limits))
            else:
                reports.append(DocumentReport(source, [Finding(
                    "Violation", error.pointer or "", error.reason, rules=["json"])]))
    return reports


def _unmappable(validator: Validator, source: str, error: MappingError, model: str,
                limits: ReadLimits) -> DocumentReport:
    """A document that cannot be mapped: read again, its entity arrays skipped (an Ensembl
    track has none, so it is read whole), to report everything wrong with an Ensembl track."""
    if model not in (AUTO, ENSEMBL):
        return mapping_failure(source, error)
    try:
        with DocumentReader(source, limits) as reader:
            document = reader.pick({}, frozenset(ENTITY_ARRAYS))
    except DocumentError:
        return mapping_failure(source, error)
    return validator.unmappable(document, source, error, model)


def _validate_source(validator: Validator, source: str, variant: Variant | None, model: str,
                     limits: ReadLimits) -> DocumentReport:
    """One document written chunk by chunk into a scratch store on disk, validated there."""
    from fairtracks_ld.mapping.stream import DocumentStream

    with tempfile.TemporaryDirectory(prefix="fairtracks-ld-validate-") as folder, \
            DocumentReader(source, limits) as reader:
        mapped = DocumentStream(reader, validator.base, variant, model, ahead=2)  # as load --bulk
        data = ox.Store(folder)
        try:
            graph = mapped.prepared.graph
            for chunk in mapped.chunks():
                data.bulk_load(chunk, format=ox.RdfFormat.N_TRIPLES, lenient=True,
                               to_graph=ox.NamedNode(graph))
            return validator.written(data, graph, mapped.prepared, source, reader=reader,
                                     scratch=True)  # thrown away: its facts can stay
        finally:
            del data  # closed before its folder is removed


def mapping_failure(source: str, error: MappingError) -> DocumentReport:
    """The report of a document that could not be given IRIs."""
    return DocumentReport(source, [Finding("Violation", error.pointer, error.message,
                                           rules=["mapping"])])


_LISTED_CAP = 10_000  # entities re-read for list-item pointers (the rest get "-")


def listed_entities(reader: DocumentReader, resolver: PointerResolver,
                     results: list[ValidationResult]) -> dict[str, Any] | None:
    """The parts of the source that list-item pointers need, read again in one pass: the
    header members whole, the entities with a result on a list item by their index."""
    wanted: dict[str, set[int]] = {}
    for result in results:
        if not result.path or not any(item.kind == "iri" and item.iri == RDF_FIRST
                                      for item in result.path.items):
            continue
        head = resolver.node(result.focus.value) or ""
        tokens = head.split("/")
        if len(tokens) > 2 and tokens[2].isdigit() and sum(map(len, wanted.values())) \
                < _LISTED_CAP:
            wanted.setdefault(tokens[1], set()).add(int(tokens[2]))
    return reader.pick(wanted, frozenset(ENTITY_ARRAYS)) if wanted else None

# ---- rendering --------------------------------------------------------------------------------


def render_text(reports: Iterable[DocumentReport], verbose: bool = False) -> str:
    """A human summary: each document's verdict, then its findings grouped by rule (a count and
    the first few JSON Pointers per rule; `verbose` lists every finding)."""
    lines = []
    for report in reports:
        verdict = "valid" if report.valid else "INVALID"
        variant = f" [{report.variant}]" if report.variant else ""
        lines.append(f"{report.source}: {verdict}{variant} — {len(report.violations)} "
                     f"violation(s), {len(report.warnings)} warning(s)")
        lines.extend(findings.render(report.items(), verbose=verbose))
    return "\n".join(lines) + "\n"


def render_json(reports: Iterable[DocumentReport]) -> str:
    return json.dumps([r.to_json() for r in reports], indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "EXIT_INVALID", "EXIT_USAGE", "EXIT_VALID", "VIOLATION", "DocumentReport", "Finding",
    "Validator", "exit_code", "render_json", "render_text", "validate_documents",
]
