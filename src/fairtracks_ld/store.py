"""The Oxigraph store: one named graph per document version, a catalog, a current view.

Every loaded document version lives in its own named graph. A catalog graph records, per version
graph, its document, collection, doc_version, doc_date, source, variant and load time, and which
version of each document is current. The current view (current versions with their inferred
companions, the ontologies, the class closure) is stored once more, merged, in the default graph
(see current_view), updated in the same SPARQL update as the catalog: queries see it by default,
each triple once; every version stays queryable with GRAPH. A version only becomes visible when
the catalog names it, so a failed load never shows half a document.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Protocol

import pyoxigraph as ox

from fairtracks_ld import current_view, reasoning
from fairtracks_ld.faults import checkpoint
from fairtracks_ld.mapping.iris import default_base_iri, normalise_base
from fairtracks_ld.mapping.namespaces import DCTERMS, FT, PROV, XSD
from fairtracks_ld.mapping.prepare import Prepared

DEFAULT_STORE_PATH = Path("var/store")
REPORT_SUFFIX = "/validation-report"
REMOVE_BATCH = "FAIRTRACKS_LD_REMOVE_BATCH"  # quads per removal transaction (default 20,000)

PREFIXES = {
    "ft": FT,
    "dcterms": DCTERMS,
    "prov": PROV,
    "xsd": XSD,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
}


class Mapped(Protocol):
    """A document mapped for writing: its header, its triples in chunks of N-Triples (loaded
    into the graph being written), and what the companion graph needs (complete once chunks
    are read)."""

    prepared: Prepared
    annotations: reasoning.DocumentAnnotations

    def chunks(self) -> Iterator[bytes]: ...


class StoreError(RuntimeError):
    """The store cannot do what was asked (wrong base IRI, unknown graph, …)."""


@dataclass(frozen=True)
class OntologyInfo:
    """One ontology graph as the catalog records it."""

    graph: str
    version_iri: str | None
    source: str
    loaded_at: str


@dataclass(frozen=True)
class VersionRecord:
    """What the catalog needs of a document version (kept small: batches hold many)."""

    graph: str
    document: str
    collection: str
    doc_version: str
    doc_date: str | None
    variant: str
    source: str

    @classmethod
    def of(cls, prepared: Prepared, source: str) -> VersionRecord:
        return cls(prepared.graph, prepared.document_iri, prepared.collection_iri,
                   prepared.doc_version, prepared.doc_date, prepared.variant, source)


@dataclass(frozen=True)
class Conformance:
    """A document version's validation outcome, kept with it: the catalog says whether it
    conforms and how many violations and warnings it has; the W3C sh:ValidationReport (Turtle)
    goes into the version's report graph."""

    conforms: bool
    violations: int
    warnings: int
    report: bytes


@dataclass(frozen=True)
class VersionInfo:
    """One document version as the catalog records it."""

    graph: str
    document: str
    collection: str
    doc_version: str
    doc_date: str | None
    source: str
    variant: str
    loaded_at: str
    current: bool
    conforms: bool | None = None  # None: loaded without validation


def _lit(value: str, datatype: str | None = None) -> str:
    literal = ox.Literal(value, datatype=ox.NamedNode(datatype)) if datatype else ox.Literal(value)
    return str(literal)


def remove_graph(store: ox.Store, graph: str, batch: int | None = None) -> None:
    """Remove a graph in transactions of at most `batch` quads, so memory stays bounded
    (Oxigraph's `remove_graph` is one transaction: 10.7M quads took over 3.2 GB).

    Only for graphs nothing shows (uncatalogued: a refused or failed write, debris): an
    interruption leaves part of such a graph, which the next sweep removes (see recovery.py).
    Quads are read from one iterator and deleted with DELETE DATA (those with a blank node,
    which DELETE DATA cannot name, one by one), and each transaction is flushed to disk.
    """
    size = batch or int(os.environ.get(REMOVE_BATCH) or 20_000)
    node = ox.NamedNode(graph)
    quads = store.quads_for_pattern(None, None, None, node)
    while chunk := list(islice(quads, size)):
        named, one_by_one = [], []
        for quad in chunk:
            blank = isinstance(quad.subject, ox.BlankNode) or isinstance(quad.object, ox.BlankNode)
            (one_by_one if blank else named).append(quad)
        try:
            if named:
                store.update(f"DELETE DATA {{ GRAPH {node} {{ "
                             + "\n".join(f"{q.subject} {q.predicate} {q.object} ." for q in named)
                             + " } }")
        except SyntaxError:  # a leniently loaded IRI SPARQL refuses
            one_by_one = chunk
        for quad in one_by_one:
            store.remove(quad)
        store.flush()  # else RocksDB's memtables keep every deletion (+0.5 GB per 1M quads)
        checkpoint("removing")  # a kill here leaves part of the graph: debris, swept
    store.remove_graph(node)  # the empty graph's name


def report_graph(graph: str) -> str:
    """The graph holding the validation report of a document version graph."""
    return graph + REPORT_SUFFIX


class TrackStore:
    """A fairtracks-ld dataset in an Oxigraph store on disk (or in memory when path is None)."""

    def __init__(
        self, path: Path | str | None = DEFAULT_STORE_PATH, base: str | None = None,
        read_only: bool = False,
    ) -> None:
        if read_only:
            if path is None or not Path(path).exists():
                raise StoreError(f"no store at {path}; load documents first")
            self.ox = ox.Store.read_only(str(path))
        else:
            if path is not None:
                Path(path).mkdir(parents=True, exist_ok=True)
            self.ox = ox.Store(str(path) if path is not None else None)
        self.path = path
        self.read_only = read_only
        stored = self._stored_base()
        if stored and base and normalise_base(base) != stored:
            raise StoreError(f"store {path} was created with base IRI {stored}, not {base}")
        self.base = stored or (normalise_base(base) if base else default_base_iri())
        self.catalog = f"{self.base}graph/catalog"
        if not stored and not read_only:
            self.ox.update(
                f"INSERT DATA {{ GRAPH <{self.catalog}> {{ <{self.catalog}> a ft:Catalog ; "
                f"ft:base_iri <{self.base}> ; ft:layout {_lit(current_view.LAYOUT)} }} }}",
                prefixes=PREFIXES,
            )
        elif current_view.needs_migration(self):
            if read_only:
                raise StoreError(f"store {path} has the layout of an earlier fairtracks-ld (no "
                                 "current view in the default graph); run `fairtracks-ld "
                                 "migrate` (any write command migrates it too)")
            current_view.migrate(self)
        elif not read_only and not current_view.marked(self):  # e.g. after DROP ALL
            current_view.migrate(self)

    def _stored_base(self) -> str | None:
        rows = list(self.ox.query(
            "SELECT ?base WHERE { GRAPH ?g { ?g a ft:Catalog ; ft:base_iri ?base } } LIMIT 1",
            prefixes=PREFIXES,
        ))
        return rows[0]["base"].value if rows else None

    # ---- reading -----------------------------------------------------------------------------

    def versions(self, document: str | None = None) -> list[VersionInfo]:
        """Catalog entries, optionally of one document, oldest load first."""
        bind = f"VALUES ?doc {{ <{document}> }}" if document else ""
        query = f"""
            SELECT ?g ?doc ?coll ?ver ?date ?src ?variant ?at ?current ?conforms WHERE {{
              GRAPH <{self.catalog}> {{
                {bind}
                ?g a ft:DocumentVersion ; dcterms:isVersionOf ?doc ; ft:collection ?coll ;
                   ft:doc_version ?ver ; dcterms:source ?src ; ft:variant ?variant ;
                   prov:generatedAtTime ?at .
                OPTIONAL {{ ?g ft:doc_date ?date }}
                OPTIONAL {{ ?g ft:conforms ?conforms }}
                BIND(EXISTS {{ ?doc ft:current_version ?g }} AS ?current)
              }}
            }} ORDER BY ?at"""
        return [
            VersionInfo(
                graph=row["g"].value, document=row["doc"].value, collection=row["coll"].value,
                doc_version=row["ver"].value, doc_date=row["date"].value if row["date"] else None,
                source=row["src"].value, variant=row["variant"].value, loaded_at=row["at"].value,
                current=row["current"].value in ("true", "1"),  # Virtuoso: EXISTS is 1/0
                conforms=row["conforms"].value == "true" if row["conforms"] else None,
            )
            for row in self.ox.query(query, prefixes=PREFIXES)
        ]

    def current_graphs(self) -> list[ox.NamedNode]:
        """The version graphs queries see by default."""
        rows = self.ox.query(
            f"SELECT ?g WHERE {{ GRAPH <{self.catalog}> {{ ?doc ft:current_version ?g }} }}",
            prefixes=PREFIXES,
        )
        return [row["g"] for row in rows]

    def ontologies(self) -> list[OntologyInfo]:
        """The ontology graphs of the store."""
        rows = self.ox.query(
            f"""SELECT ?g ?v ?src ?at WHERE {{ GRAPH <{self.catalog}> {{
                  ?g a ft:OntologyGraph ; dcterms:source ?src ; prov:generatedAtTime ?at .
                  OPTIONAL {{ ?g owl:versionIRI ?v }} }} }} ORDER BY ?g""",
            prefixes=PREFIXES,
        )
        return [
            OntologyInfo(row["g"].value, row["v"].value if row["v"] else None,
                         row["src"].value, row["at"].value)
            for row in rows
        ]

    def default_graphs(self) -> list[ox.NamedNode | ox.DefaultGraph]:
        """A query's default graph: the current view, merged into the store's default graph
        (current versions with their companions, the ontologies and their closure)."""
        return [ox.DefaultGraph()]

    def view_sources(self) -> set[str]:
        """The named graphs whose merge the current view is (see current_view)."""
        return current_view.sources(self)

    def query(self, sparql: str, all_graphs: bool = False, **options) -> ox.QuerySolutions:
        """Run SPARQL over the current view (or over every named graph's union with
        all_graphs: every version, current or not, and every companion)."""
        if all_graphs:  # Oxigraph's union would count the view (the default graph) too
            return self.ox.query(sparql, default_graph=list(self.ox.named_graphs()),
                                 prefixes=PREFIXES, **options)
        return self.ox.query(sparql, prefixes=PREFIXES, **options)

    def graph_quads(self, graph: str) -> Iterator[ox.Quad]:
        return self.ox.quads_for_pattern(None, None, None, ox.NamedNode(graph))

    def has_graph(self, graph: str) -> bool:
        return self.ox.contains_named_graph(ox.NamedNode(graph))

    def dump(self, output: IO[bytes], fmt: ox.RdfFormat, graph: str | None = None) -> None:
        """Stream the dataset (or one graph) without building it in memory."""
        if graph is not None:
            if not self.has_graph(graph):
                raise StoreError(f"no graph {graph} in the store")
            self.ox.dump(output, format=fmt, from_graph=ox.NamedNode(graph))
        elif not fmt.supports_datasets:
            raise StoreError(f"{fmt.name} holds one graph; name it with --graph or use nq/trig")
        else:
            self.ox.dump(output, format=fmt)

    # ---- writing -----------------------------------------------------------------------------

    def write(self, document: Prepared | Mapped, source: str, bulk: bool = False,
              check: Callable[[str], Conformance | None] | None = None,
              catalog_extra: str = "") -> VersionInfo:
        """Write one document version; it becomes visible only once all of it is written.

        Stages: (1) the mapped triples are written chunk by chunk into the version
        graph (with Oxigraph's bulk loader when `bulk`, which is several times faster and
        releases the GIL, else one transaction per chunk), invisible until the catalog names
        it; (2) `check`, when given, validates the written graph and returns its conformance
        (recorded in the catalog, the W3C report in `{graph}/validation-report`), or raises to
        refuse it; (3) the inferred companion graph (track → ancestor links) is bulk-written;
        (4) one catalog update makes them visible, with `catalog_extra` (SPARQL update
        operations, e.g. who submitted it) in the same update. A reload of a catalogued version
        is written to a staging graph and moved into place together with the catalog change.
        On any failure (or refusal) everything written is removed: the store is as it was.
        """
        from fairtracks_ld.mapping.stream import WholeDocument

        mapped = WholeDocument(document) if isinstance(document, Prepared) else document
        prepared = mapped.prepared
        graph = prepared.graph
        replacing = self.catalogued(graph)  # an uncatalogued graph is a killed load's debris
        if not replacing:
            self._drop_uncatalogued(graph)
        target = f"{graph}/staging/{uuid.uuid4().hex}" if replacing else graph
        if replacing:
            checkpoint("staging")
        inferred = reasoning.inferred_graph(target)
        report = report_graph(target)
        try:
            # (1) lenient: the mapping has already checked every IRI it wrote with Oxigraph's rules
            into = ox.NamedNode(target)
            for chunk in mapped.chunks():  # N-Triples (fairtracks_ld.mapping.stream.FORMAT)
                if bulk:
                    self.ox.bulk_load(chunk, format=ox.RdfFormat.N_TRIPLES, lenient=True,
                                      to_graph=into)
                else:
                    self.ox.load(chunk, format=ox.RdfFormat.N_TRIPLES, lenient=True,
                                 to_graph=into)
                checkpoint("bulk-write")  # a kill here leaves a partly written, invisible graph
            # (2)
            conformance = check(target) if check is not None else None
            # (3)
            reasoning.ensure_current(self)
            reasoning.write_companion(self, target, annotations=mapped.annotations)
            if conformance is not None:
                self.ox.bulk_load(conformance.report, format=ox.RdfFormat.TURTLE,
                                  to_graph=ox.NamedNode(report))
            checkpoint("ingested")
            # (4)
            move = ""
            if replacing:  # a missing report leaves none behind: MOVE of an empty graph drops
                move = (f"MOVE <{target}> TO <{graph}> ; MOVE <{inferred}> TO "
                        f"<{reasoning.inferred_graph(graph)}> ; "
                        f"MOVE SILENT <{report}> TO <{report_graph(graph)}> ;")
            record = VersionRecord.of(prepared, source)
            update = move + self._catalog_update(record, conformance)
            if catalog_extra:
                update += " ; " + catalog_extra
            self.ox.update(self._view_change(record, update), prefixes=PREFIXES)
        except BaseException:
            for written in (target, inferred, report):
                if self.has_graph(written):
                    remove_graph(self.ox, written)
            raise
        checkpoint("view-pending")  # catalogued: from here on, the next writer settles the view
        current_view.settle(self)
        checkpoint("catalog-updated")
        return self._version(graph)

    def _view_change(self, record: VersionRecord, between: str) -> str:
        """The catalog update `between` with the view change it causes: when the version becomes
        current, the document's previous current version leaves the view and the version
        enters it (noted for `current_view.settle`; the same graph's reload, in the update)."""
        rows = list(self.ox.query(
            f"SELECT ?cur ?date WHERE {{ GRAPH <{self.catalog}> {{ <{record.document}> "
            f"ft:current_version ?cur OPTIONAL {{ ?cur ft:doc_date ?date }} }} }}",
            prefixes=PREFIXES))
        current = rows[0]["cur"].value if rows else None
        newer = (rows and current != record.graph and record.doc_date is not None
                 and rows[0]["date"] is not None and rows[0]["date"].value > record.doc_date)
        if newer:  # an older version: history only, the view does not change
            return between
        graph = record.graph
        leaving = [current, reasoning.inferred_graph(current)] if current else []
        entering = [graph, reasoning.inferred_graph(graph)]
        if current == graph:  # the same graph reloaded: its old triples are gone after MOVE
            others = current_view.sources(self) - set(entering)
            return current_view.change(self, leaving, entering, between, others)
        return between + " ;\n" + current_view.pending(self, leaving, entering)

    def catalogued(self, graph: str) -> bool:
        """Whether the catalog records `graph` as a document version."""
        return bool(self.ox.query(
            f"ASK {{ GRAPH <{self.catalog}> {{ <{graph}> a ft:DocumentVersion }} }}",
            prefixes=PREFIXES))

    def _drop_uncatalogued(self, graph: str) -> None:
        """Remove what a killed write of `graph` left (normally swept already)."""
        for leftover in (graph, reasoning.inferred_graph(graph), report_graph(graph)):
            if self.has_graph(leftover):
                remove_graph(self.ox, leftover)

    def load_ontology(
        self, turtle: IO[bytes] | bytes, ontology_iri: str, version_iri: str | None, source: str
    ) -> None:
        """Load (or atomically replace) an ontology into the named graph of its IRI.

        A new ontology is bulk-loaded straight into its graph; a replacement into a staging
        graph that one update moves into place. Either way the catalog update that makes it
        visible comes last, and a parse error removes what was written: nothing changes.
        """
        replacing = self.has_graph(ontology_iri)
        target = f"{self.base}graph/staging/{uuid.uuid4().hex}" if replacing else ontology_iri
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        version = f"; owl:versionIRI <{version_iri}>" if version_iri else ""
        move = f"MOVE <{target}> TO <{ontology_iri}> ;" if replacing else ""
        try:
            self.ox.bulk_load(turtle, format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(target))
            catalog = f"""{move}
                DELETE WHERE {{ GRAPH <{self.catalog}> {{ <{ontology_iri}> ?p ?o }} }} ;
                INSERT DATA {{ GRAPH <{self.catalog}> {{
                  <{ontology_iri}> a ft:OntologyGraph {version} ; dcterms:source {_lit(source)} ;
                    prov:generatedAtTime {_lit(now, XSD + "dateTime")} }} }}"""
            self.ox.update(current_view.change(
                self, [ontology_iri] if replacing else [], [ontology_iri], catalog,
                current_view.sources(self) - {ontology_iri}), prefixes=PREFIXES)
        except BaseException:
            if self.has_graph(target):
                remove_graph(self.ox, target)
            raise

    def _version(self, graph: str) -> VersionInfo:
        return next(v for v in self.versions() if v.graph == graph)

    def _catalog_update(self, record: VersionRecord, conformance: Conformance | None) -> str:
        """Record a version and make it current unless a later-dated version is current."""
        g, doc, cat = record.graph, record.document, self.catalog
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        facts = (f"; ft:doc_date {_lit(record.doc_date)}" if record.doc_date else "")
        if conformance is not None:
            count = XSD + "integer"
            facts += (f"; ft:conforms {_lit(str(conformance.conforms).lower(), XSD + 'boolean')}"
                     f"; ft:violation_count {_lit(str(conformance.violations), count)}"
                     f"; ft:warning_count {_lit(str(conformance.warnings), count)}"
                     f"; ft:validation_report <{report_graph(g)}>")
        newer = (
            f"FILTER NOT EXISTS {{ GRAPH <{cat}> {{ <{doc}> ft:current_version ?cur . "
            f"?cur ft:doc_date ?curdate . FILTER(?cur != <{g}> && STR(?curdate) > "
            f"{_lit(record.doc_date)}) }} }}"
            if record.doc_date else ""
        )
        return f"""
            DELETE WHERE {{ GRAPH <{cat}> {{ <{g}> ?p ?o }} }} ;
            INSERT DATA {{ GRAPH <{cat}> {{
              <{g}> a ft:DocumentVersion ; dcterms:isVersionOf <{doc}> ;
                ft:collection <{record.collection}> ;
                ft:doc_version {_lit(record.doc_version)} {facts} ;
                dcterms:source {_lit(record.source)} ; ft:variant {_lit(record.variant)} ;
                prov:generatedAtTime {_lit(now, XSD + "dateTime")} .
            }} }} ;
            DELETE {{ GRAPH <{cat}> {{ <{doc}> ft:current_version ?old }} }}
            INSERT {{ GRAPH <{cat}> {{ <{doc}> ft:current_version <{g}> }} }}
            WHERE {{ OPTIONAL {{ GRAPH <{cat}> {{ <{doc}> ft:current_version ?old }} }} {newer} }}
        """

    def mark_modified(self) -> None:
        """Record (dcterms:modified of the catalog) that the store was changed outside the
        loaders, e.g. by SPARQL Update, so whatever mirrors it cannot trust per-graph stamps."""
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        cat = self.catalog
        self.ox.update(
            f"DELETE WHERE {{ GRAPH <{cat}> {{ <{cat}> dcterms:modified ?m }} }} ; "
            f"INSERT DATA {{ GRAPH <{cat}> {{ <{cat}> dcterms:modified "
            f"{_lit(now, XSD + 'dateTime')} }} }}", prefixes=PREFIXES)

    def flush(self) -> None:
        """Persist buffered writes (no-op on read-only stores)."""
        if not self.read_only:
            self.ox.flush()
