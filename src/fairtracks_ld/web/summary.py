"""What a person reads first on a resource page: the summary of a track, experiment, sample,
study or collection, its provenance and its ontology context.

The raw description (every triple) stays available at the end of the page; this module picks out
what a researcher looks for: the label of every ontology annotation with its CURIE (the track's own
and those of its experiment and sample), species, assembly, the file, the related entities by
their labels, the document version the resource came from and its validation verdict. Ancestors
of the annotated terms come from the stored class closure, not from per-track links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.mapping.namespaces import DCTERMS, FT, PROV, RDF_TYPE
from fairtracks_ld.ontology.iris import canonical_iri, iri_to_curie
from fairtracks_ld.store import TrackStore, members
from fairtracks_ld.web import view

RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
ANNOTATION = FT + "OntologyAnnotation"
# links between entities a summary follows, and how far (a track → experiment → sample, study →
# collection): the related entities a reader wants named on a page
REFS = ("experiment_ref", "sample_ref", "study_ref", "collection_ref")
MAX_HOPS = 3
FIELD_TITLES = {
    "file_format": "file format", "technique": "technique",
    "biospecimen_class": "biospecimen class",
    "phenotype": "phenotype", "sample_type/cell_type": "cell type",
    "sample_type/abnormal_cell_type": "abnormal cell type", "sample_type/cell_line": "cell line",
    "sample_type/organism_part": "organism part", "target/sequence_feature": "target feature",
    "target/gene_product_type": "target gene product", "target/phenotype": "target phenotype",
    "target/macromolecular_structure": "target structure",
}
KIND_TITLES = {FT + "Track": "track", FT + "EnsemblTrack": "Ensembl track",
               FT + "Experiment": "experiment", FT + "Sample": "sample", FT + "Study": "study",
               FT + "Collection": "collection", FT + "Document": "document"}


@dataclass(frozen=True)
class Annotation:
    """One ontology annotation as a reader sees it: what it says, the term, where it sits."""

    title: str
    term: str
    curie: str
    label: str
    owner: str  # "track", "experiment", "sample" …


@dataclass(frozen=True)
class Related:
    kind: str
    iri: str
    label: str
    via: str


@dataclass
class Summary:
    """Everything the first screen of a resource page shows."""

    kind: str
    facts: list[tuple[str, str, str | None]] = field(default_factory=list)  # title, text, link
    annotations: list[Annotation] = field(default_factory=list)
    related: list[Related] = field(default_factory=list)
    file: dict[str, str] = field(default_factory=dict)
    citations: list[str] = field(default_factory=list)  # publication IRIs (own or the study's)
    contacts: list[tuple[str, str | None]] = field(default_factory=list)  # name, e-mail


def values(triples: Iterable[ox.Triple], subject: ox.NamedNode, name: str) -> list[ox.Term]:
    predicate = FT + name
    return [t.object for t in triples if t.subject == subject and t.predicate.value == predicate]


def first_text(triples: Iterable[ox.Triple], subject: ox.NamedNode, name: str) -> str | None:
    found = values(triples, subject, name)
    return found[0].value if found else None


def kind_of(triples: Iterable[ox.Triple], subject: ox.NamedNode) -> str:
    types = {t.object.value for t in triples
             if t.subject == subject and t.predicate.value == RDF_TYPE}
    for iri in (FT + "EnsemblTrack", *KIND_TITLES):
        if iri in types:
            return KIND_TITLES[iri]
    return "resource"


def annotations(triples: list[ox.Triple], iri: str, owner: str) -> list[Annotation]:
    """The ontology annotations among a description's nested nodes, by their JSON place."""
    nodes = {t.subject for t in triples
             if t.predicate.value == RDF_TYPE and t.object.value == ANNOTATION
             and isinstance(t.subject, ox.NamedNode) and t.subject.value.startswith(iri + "#")}
    found = []
    for node in nodes:
        term = values(triples, node, "term_id")
        if not term:
            continue
        place = node.value.split("#", 1)[1]
        label = first_text(triples, node, "term_label") or ""
        found.append(Annotation(FIELD_TITLES.get(place, place.replace("/", " / ")),
                                term[0].value, iri_to_curie(term[0].value), label, owner))
    return sorted(found, key=lambda a: a.title)


def entity_label(triples: list[ox.Triple], node: ox.NamedNode) -> str:
    """A human name for an entity: its label or name, else what describes it, else its id."""
    for name in ("label_short", "study_name", "short_name", "label_long", "long_name"):
        text = first_text(triples, node, name)
        if text:
            return text
    local = first_text(triples, node, "local_id") or node.value.rsplit("/", 1)[-1]
    described = [first_text(triples, ox.NamedNode(node.value + suffix), "summary")
                 or first_text(triples, ox.NamedNode(node.value + suffix), "term_label")
                 for suffix in ("#sample_type", "#technique", "#target")]
    words = [w for w in described if w]
    return f"{' · '.join(words)} ({local})" if words else local


Describe = Callable[[TrackStore, str], list[ox.Triple]]


def summarise(store: TrackStore, iri: str, triples: list[ox.Triple], describe: Describe
              ) -> Summary:
    """The summary of one resource from its description, following its *_ref links (each
    linked entity described by `describe`, the resource page's own description)."""
    subject = ox.NamedNode(iri)
    summary = Summary(kind=kind_of(triples, subject))
    summary.annotations = annotations(triples, iri, summary.kind)
    seen = {iri}
    frontier: list[tuple[ox.NamedNode, list[ox.Triple]]] = [(subject, triples)]
    for _ in range(MAX_HOPS):
        ask_ahead(store, "prefetch_nodes", [
            t.value for node, described in frontier for ref in REFS
            for t in values(described, node, ref)
            if isinstance(t, ox.NamedNode) and t.value not in seen])
        following = []
        for node, described in frontier:
            for ref in REFS:
                for target in values(described, node, ref):
                    if not isinstance(target, ox.NamedNode) or target.value in seen:
                        continue
                    seen.add(target.value)
                    linked = describe(store, target.value)
                    kind = kind_of(linked, target)
                    summary.related.append(Related(kind, target.value,
                                                   entity_label(linked, target),
                                                   ref.removesuffix("_ref")))
                    summary.annotations += annotations(linked, target.value, kind)
                    following.append((target, linked))
                    if kind == "sample":
                        _species(summary, linked, target)
                    if kind == "study":
                        _credits(summary, linked, target)
        frontier = following
    _species(summary, triples, subject)
    _assembly(summary, triples, subject)
    _descriptive(summary, triples, subject)
    _credits(summary, triples, subject)
    summary.file = file_facts(triples, subject)
    return summary


def _species(summary: Summary, triples: list[ox.Triple], node: ox.NamedNode) -> None:
    name = first_text(triples, node, "species_name")
    taxon = first_text(triples, node, "species_id_iri")
    if name and not any(title == "species" for title, _, _ in summary.facts):
        summary.facts.append(("species", f"{name} ({iri_to_curie(taxon)})" if taxon else name,
                              taxon))


def _assembly(summary: Summary, triples: list[ox.Triple], node: ox.NamedNode) -> None:
    name = first_text(triples, node, "assembly_name")
    identifier = first_text(triples, node, "assembly_id")
    if name or identifier:
        text = " ".join(p for p in (name, f"({identifier})" if identifier else None) if p)
        summary.facts.append(("assembly", text, first_text(triples, node, "assembly_id_iri")))
    for title, name in (("track type", "geometric_track_type"),
                        ("condensed data", "type_of_condensed_data"),
                        ("Ensembl track type", "track_type")):
        text = first_text(triples, node, name)
        if text:
            summary.facts.append((title, text, None))


DESCRIPTIVE = (("name", "long_name"), ("description", "description"),
               ("description", "description_url"), ("source repository", "source_repo_url"),
               ("original metadata", "orig_metadata_url"), ("publication", "publication_iri"),
               ("global id", "global_id_iri"), ("local id", "local_id"))


def _descriptive(summary: Summary, triples: list[ox.Triple], node: ox.NamedNode) -> None:
    """Names, descriptions and identifiers, linked where they are web addresses; contacts."""
    for title, name in DESCRIPTIVE:
        for value in values(triples, node, name):
            link = value.value if isinstance(value, ox.NamedNode) or name.endswith("_url") else None
            summary.facts.append((title, iri_to_curie(value.value) if name.endswith("_iri")
                                  else value.value, link))
    for contact in values(triples, node, "contact"):
        if isinstance(contact, ox.NamedNode):
            who = first_text(triples, contact, "name") or ""
            mail = first_text(triples, contact, "e-mail")
            summary.facts.append(("contact", f"{who} <{mail}>" if mail else who,
                                  f"mailto:{mail}" if mail else None))


def _credits(summary: Summary, triples: list[ox.Triple], node: ox.NamedNode) -> None:
    """Publications and contacts, for citing and crediting (schema.org citation, creator)."""
    for value in values(triples, node, "publication_iri"):
        if value.value not in summary.citations:
            summary.citations.append(value.value)
    for contact in values(triples, node, "contact"):
        if isinstance(contact, ox.NamedNode):
            who = (first_text(triples, contact, "name") or "",
                   first_text(triples, contact, "e-mail"))
            if who[0] and who not in summary.contacts:
                summary.contacts.append(who)


def file_facts(triples: list[ox.Triple], node: ox.NamedNode) -> dict[str, str]:
    """The track's file: URL, name, format (label and CURIE), checksum, size where stated."""
    url = first_text(triples, node, "file_url")
    if not url:
        return {}
    facts = {"url": url, "name": first_text(triples, node, "file_name") or url.rsplit("/", 1)[-1]}
    fmt = ox.NamedNode(node.value + "#file_format")
    term = first_text(triples, fmt, "term_id")
    if term:
        facts["format"] = first_text(triples, fmt, "term_label") or ""
        facts["format_term"] = term
        facts["format_curie"] = iri_to_curie(term)
    checksum = ox.NamedNode(node.value + "#checksum")
    if first_text(triples, checksum, "cs_hash"):
        facts["checksum"] = (f"{first_text(triples, checksum, 'cs_method') or ''} "
                             f"{first_text(triples, checksum, 'cs_hash')}").strip()
    size = first_text(triples, node, "file_size")
    if size:
        facts["size"] = size
    return facts


# ---- provenance -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provenance:
    """The document version a resource was read from, as the catalog records it."""

    graph: str
    document: str | None
    doc_version: str | None
    doc_date: str | None
    loaded_at: str | None
    source: str | None
    variant: str | None
    conforms: bool | None
    violations: str | None
    warnings: str | None
    report: str | None


CATALOG_FIELDS = {"document": DCTERMS + "isVersionOf", "doc_version": FT + "doc_version",
                  "doc_date": FT + "doc_date", "loaded_at": PROV + "generatedAtTime",
                  "source": DCTERMS + "source", "variant": FT + "variant",
                  "conforms": FT + "conforms", "violations": FT + "violation_count",
                  "warnings": FT + "warning_count", "report": FT + "validation_report"}


def version_graph(store: TrackStore, iri: str) -> str | None:
    """The current document version graph stating the resource's type (not an inferred one)."""
    graphs = view.current_graphs(store)
    for quad in store.ox.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(RDF_TYPE), None, None):
        if quad.graph_name in graphs:
            return quad.graph_name.value
    version = members.version_of(store, iri)  # a version stored once: no named graph
    return version if version is not None and ox.NamedNode(version) in graphs else None


def provenance(store: TrackStore, iri: str) -> Provenance | None:
    graph = version_graph(store, iri)
    if graph is None:
        return None
    found: dict[str, str] = {}
    by_predicate = {p: name for name, p in CATALOG_FIELDS.items()}
    for quad in store.ox.quads_for_pattern(ox.NamedNode(graph), None, None,
                                           ox.NamedNode(store.catalog)):
        name = by_predicate.get(quad.predicate.value)
        if name:
            found[name] = quad.object.value
    if not found:
        return None
    conforms = found.pop("conforms", None)
    return Provenance(graph=graph, conforms=None if conforms is None else conforms == "true",
                      **{name: found.get(name) for name in CATALOG_FIELDS if name != "conforms"})


# ---- ontology context --------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """The ancestors of one annotated term, from the class closure, most specific first."""

    annotation: Annotation
    ancestors: list[tuple[str, str, str]]  # iri, CURIE, label


# per opened read-only snapshot (its closure cannot change): term → its ancestors, labelled
_ANCESTORS: WeakKeyDictionary[TrackStore, dict[str, list[tuple[str, str, str]]]] = (
    WeakKeyDictionary())


def ontology_context(store: TrackStore, found: list[Annotation]) -> list[Context]:
    cache = _ANCESTORS.get(store, {}) if store.read_only else {}
    ask_ahead(store, "prefetch_ancestry",
              [t for t in (canonical_iri(a.term) for a in found) if t not in cache],
              ox.NamedNode(reasoning.DESCENDS_FROM),
              ox.NamedNode(reasoning.closure_graph(store)))
    contexts, done = [], set()
    for annotation in found:
        term = canonical_iri(annotation.term)
        if term not in done:
            done.add(term)
            contexts.append(Context(annotation, ancestors_of(store, term)))
    return contexts


def ancestors_of(store: TrackStore, term: str) -> list[tuple[str, str, str]]:
    """A term's ancestors in the closure (IRI, CURIE, label), those with more ancestors of
    their own (the more specific) first; remembered per read-only snapshot."""
    cache = _ANCESTORS.setdefault(store, {}) if store.read_only else {}
    if term in cache:
        return cache[term]
    closure = ox.NamedNode(reasoning.closure_graph(store))
    descends = ox.NamedNode(reasoning.DESCENDS_FROM)
    depth: dict[str, int] = {}
    for quad in store.ox.quads_for_pattern(ox.NamedNode(term), descends, None, closure):
        ancestor = canonical_iri(quad.object.value)
        if ancestor != term and ancestor not in depth:
            depth[ancestor] = _count(store, ox.NamedNode(ancestor), descends, closure)
    ordered = sorted(depth, key=lambda a: (-depth[a], a))
    cache[term] = [(a, iri_to_curie(a), _label(store, a)) for a in ordered]
    return cache[term]


def ask_ahead(store: TrackStore, batch: str, *args: object) -> None:
    """A store answered by a SPARQL backend (backend.dataset.RemoteOx) fetches in one round
    trip what the page is about to ask of it one pattern at a time; a local store has no such
    method and needs none."""
    method = getattr(store.ox, batch, None)
    if method is not None and args and args[0]:
        method(*args)


def _count(store: TrackStore, subject: ox.NamedNode, predicate: ox.NamedNode,
           graph: ox.NamedNode) -> int:
    """How many quads match: counted by a backend (backend.dataset.RemoteOx.count) without
    reading them, read locally."""
    count = getattr(store.ox, "count", None)
    if count is not None:
        return count(subject, predicate, graph)
    return sum(1 for _ in store.ox.quads_for_pattern(subject, predicate, None, graph))


def _label(store: TrackStore, iri: str) -> str:
    for triple in view.triples(store, ox.NamedNode(iri), RDFS_LABEL):
        return triple.object.value
    return ""
