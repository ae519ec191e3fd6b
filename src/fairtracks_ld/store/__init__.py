"""The Oxigraph store: one named graph per document version, a catalog, a current view.

Every loaded document version lives in its own named graph. A catalog graph records, per version
graph, its document, collection, doc_version, doc_date, source, variant and load time, and which
version of each document is current. The current view (current versions, the ontologies, the class
closure) is stored once more, merged, in the default graph (see current_view), updated in the same
SPARQL update as the catalog: queries see it by default, each triple once; every version stays
queryable with GRAPH. A version only becomes visible when the catalog names it, so a failed load
never shows half a document. This is the low-level store: a document version's write, which needs
reasoning too, is writing.write_version.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from fairtracks_ld.graph_removal import remove_graph
from fairtracks_ld.mapping.iris import default_base_iri, normalise_base
from fairtracks_ld.mapping.namespaces import PREFIXES, XSD
from fairtracks_ld.mapping.prepare import Prepared
from fairtracks_ld.store import current_view, members, records

DEFAULT_STORE_PATH = Path("var/store")
REPORT_SUFFIX = "/validation-report"


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
        (current versions, the ontologies and their closure)."""
        return [ox.DefaultGraph()]

    def view_sources(self) -> set[str]:
        """The named graphs whose merge the current view is (see current_view)."""
        return current_view.sources(self)

    def query(self, sparql: str, all_graphs: bool = False, **options) -> ox.QuerySolutions:
        """Run SPARQL over the current view (or over every named graph's union with
        all_graphs: every version, current or not, and every report; with versions stored
        once, whose triples only the view holds, the view too)."""
        if all_graphs:  # Oxigraph's union would count the view (the default graph) too
            graphs: list[ox.NamedNode | ox.DefaultGraph] = list(self.ox.named_graphs())
            if members.stored_once(self):
                graphs.append(ox.DefaultGraph())
            return self.ox.query(sparql, default_graph=graphs, prefixes=PREFIXES, **options)
        return self.ox.query(sparql, prefixes=PREFIXES, **options)

    def graph_quads(self, graph: str) -> Iterator[ox.Quad]:
        """A named graph's quads, or a version stored once's (members.quads)."""
        node = ox.NamedNode(graph)
        if not self.ox.contains_named_graph(node) and members.is_stored_once(self, graph):
            return members.quads(self, graph)
        return self.ox.quads_for_pattern(None, None, None, node)

    def has_graph(self, graph: str) -> bool:
        """Whether the store holds `graph`: a named graph, or a version stored once."""
        return self.ox.contains_named_graph(ox.NamedNode(graph)) or \
            members.is_stored_once(self, graph)

    def stored_once_version(self, subject: str) -> str | None:
        """The version stored once describing `subject` (members.version_of), if any."""
        return members.version_of(self, subject)

    def graph_names(self) -> list[str]:
        """Every graph the store holds: its named graphs and its versions stored once."""
        return [g.value for g in self.ox.named_graphs()] + sorted(members.stored_once(self))

    def dump(self, output: IO[bytes], fmt: ox.RdfFormat, graph: str | None = None) -> None:
        """Stream the dataset (or one graph) without building it in memory. In N-Triples and
        N-Quads, a graph with a record (records.py) is copied from it: the same triples, blank
        nodes included, without reading the store."""
        if graph is not None:
            if not self.has_graph(graph):
                raise StoreError(f"no graph {graph} in the store")
            recorded = records.path_of(self, graph) if fmt == ox.RdfFormat.N_TRIPLES else None
            if recorded is not None:
                for block in records.blocks(recorded):
                    output.write(block)
                return
            if not self.ox.contains_named_graph(ox.NamedNode(graph)):  # stored once
                ox.serialize((q.triple for q in self.graph_quads(graph)), output, fmt)
                return
            self.ox.dump(output, format=fmt, from_graph=ox.NamedNode(graph))
        elif not fmt.supports_datasets:
            raise StoreError(f"{fmt.name} holds one graph; name it with --graph or use nq/trig")
        elif fmt == ox.RdfFormat.N_QUADS and (recorded := records.files(self)):
            self._dump_nquads(output, recorded)
        elif once := sorted(members.stored_once(self)):
            ox.serialize(itertools.chain(self.ox, *(self.graph_quads(g) for g in once)),
                         output, fmt)
        else:
            self.ox.dump(output, format=fmt)

    def _dump_nquads(self, output: IO[bytes], recorded: dict[str, Path]) -> None:
        """The dataset as N-Quads, graph by graph: the default graph and every graph without
        a record from Oxigraph's dump, the others copied from their `recorded` files."""
        self.ox.dump(output, format=ox.RdfFormat.N_QUADS, from_graph=ox.DefaultGraph())
        once = [ox.NamedNode(g) for g in sorted(members.stored_once(self))]
        for node in itertools.chain(self.ox.named_graphs(), once):
            if node.value in recorded:
                for block in records.blocks(recorded[node.value]):
                    output.write(records.as_nquads(block, node.value))
                continue
            if node in once:
                ox.serialize(self.graph_quads(node.value), output, ox.RdfFormat.N_QUADS)
                continue
            self.ox.dump(records.AsQuads(output, node.value), format=ox.RdfFormat.N_TRIPLES,
                         from_graph=node)

    # ---- writing -----------------------------------------------------------------------------

    def catalogued(self, graph: str) -> bool:
        """Whether the catalog records `graph` as a document version."""
        return bool(self.ox.query(
            f"ASK {{ GRAPH <{self.catalog}> {{ <{graph}> a ft:DocumentVersion }} }}",
            prefixes=PREFIXES))

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

    def version(self, graph: str) -> VersionInfo:
        return next(v for v in self.versions() if v.graph == graph)

    def catalog_update(self, record: VersionRecord, conformance: Conformance | None) -> str:
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
        loaders, e.g. by SPARQL Update, so whatever mirrors it cannot trust per-graph stamps;
        for the same reason the catalog stops naming records (any graph may differ from its
        record now): their files are swept by the next writer, `doctor --repair` writes them
        again from the graphs. A version stored once keeps its record, its only exact copy
        (what it was loaded as; `GRAPH <version>` answers the view, updates included)."""
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        cat = self.catalog
        self.ox.update(
            f"DELETE WHERE {{ GRAPH <{cat}> {{ <{cat}> dcterms:modified ?m }} }} ; "
            f"DELETE {{ GRAPH <{cat}> {{ ?g <{records.RECORD}> ?r }} }} WHERE {{ GRAPH <{cat}> "
            f"{{ ?g <{records.RECORD}> ?r }} FILTER NOT EXISTS {{ GRAPH <{members.graph(self)}> "
            f"{{ ?g a <{members.STORED_ONCE}> }} }} }} ; "
            f"INSERT DATA {{ GRAPH <{cat}> {{ <{cat}> dcterms:modified "
            f"{_lit(now, XSD + 'dateTime')} }} }}", prefixes=PREFIXES)

    def flush(self) -> None:
        """Persist buffered writes (no-op on read-only stores)."""
        if not self.read_only:
            self.ox.flush()
