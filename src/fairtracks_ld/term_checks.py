"""What a loaded document's annotations mean against the loaded ontologies, as loader notes.

- Obsolete terms: an annotation whose term is owl:deprecated in a loaded ontology is reported with
  its JSON Pointer and its replacement (IAO:0100001), so a curator can update the document.
- doc_ontology_versions: the ontology versions a document says it follows are compared with the
  versions loaded in the store (`schema_ontology_iri` in the bundle manifest maps the FAIRtracks
  ontology IRIs, e.g. http://purl.obolibrary.org/obo/cl.owl, to the loaded graph); differences are
  reported because ancestor-aware search follows the loaded release, not the document's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote

import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.mapping.namespaces import FT, OWL, RDFS
from fairtracks_ld.mapping.prepare import Note
from fairtracks_ld.standard import ENTITY_ARRAYS
from fairtracks_ld.store import TrackStore, members

_PREFIXES = {"ft": FT, "owl": OWL, "rdfs": RDFS}
_ARRAY_OF_KIND = {kind: array for array, kind in ENTITY_ARRAYS.items()}
_VERSION_TOKEN = re.compile(r"v?(\d{4}-\d{2}-\d{2}|\d+(?:\.\d+)+)")


def document_notes(store: TrackStore, graph: str) -> list[Note]:
    """Every ontology-related note about one stored document version."""
    return obsolete_annotations(store, graph) + ontology_version_notes(store, graph)


# ---- obsolete terms --------------------------------------------------------------------------


def obsolete_annotations(store: TrackStore, graph: str) -> list[Note]:
    """One warning per annotation that uses an obsolete term, naming its replacement."""
    uses_term = members.in_graph(store, graph, "?node ft:term_id ?term", "?node")
    # the terms looked up: a version stored once's are read over the whole view, a superset
    # the index answers at once (its uses below are its own; a filter per node costs 13 s at
    # 1M tracks)
    used = "?node ft:term_id ?term" if members.is_stored_once(store, graph) else uses_term
    terms = [row[0].value for row in store.ox.query(
        f"SELECT DISTINCT ?term WHERE {{ {used} }}", prefixes=_PREFIXES)]
    replaced = reasoning.replacements(store, terms) if terms else {}
    if not replaced:
        return []
    labels = _labels(store, {*replaced, *(r for r in replaced.values() if r)})
    rows = store.ox.query(
        f"""SELECT ?node ?term WHERE {{ {reasoning.values_clause("term", replaced)}
              {uses_term} }}""",
        prefixes=_PREFIXES,
    )
    uses = [(row["node"].value, row["term"].value) for row in rows]
    positions = _positions(store, graph, {node.partition("#")[0] for node, _ in uses})
    notes = []
    for node, term in uses:
        effective = reasoning.follow(term, replaced)
        advice = (f"replaced by {_named(effective, labels)}; searches for it follow the replacement"
                  if replaced[term] else "no replacement is given (IAO:0100001)")
        notes.append(Note(_pointer(node, positions), "warning",
                          f"obsolete term {_named(term, labels)}: {advice}"))
    return sorted(notes, key=lambda n: n.pointer)


def _positions(store: TrackStore, graph: str, entities: set[str]) -> dict[str, str]:
    """Entity → its index in its array (ft:position), to point into the document."""
    rows = store.ox.query(
        f"""SELECT ?entity ?pos WHERE {{ {reasoning.values_clause("entity", entities)}
              {members.in_graph(store, graph, "?entity ft:position ?pos", "?entity")} }}""",
        prefixes=_PREFIXES,
    )
    return {row[0].value: row[1].value for row in rows}


def _pointer(node: str, positions: dict[str, str]) -> str:
    """JSON Pointer of an annotation node `{entity}#{pointer below the entity}`."""
    entity, _, below = node.partition("#")
    kind = entity.rsplit("/", 2)[-2] if entity.count("/") >= 2 else ""
    array, position = _ARRAY_OF_KIND.get(kind), positions.get(entity)
    head = f"/{array}/{position}" if array and position is not None else ""
    return f"{head}/{unquote(below)}/term_id"


def _labels(store: TrackStore, terms: set[str]) -> dict[str, str]:
    if not terms:
        return {}
    rows = store.ox.query(
        f"SELECT ?term ?label WHERE {{ {reasoning.values_clause('term', terms)} "
        "?term rdfs:label ?label }",
        default_graph=reasoning.ontology_graphs(store) or [ox.DefaultGraph()], prefixes=_PREFIXES,
    )
    return {row[0].value: row[1].value for row in rows}


def _named(term: str, labels: dict[str, str]) -> str:
    from fairtracks_ld.ontology.iris import iri_to_curie

    label = labels.get(term)
    return f"{iri_to_curie(term)} ({label})" if label else iri_to_curie(term)


# ---- doc_ontology_versions -------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedOntology:
    graph: str
    version_iri: str | None
    version: str | None


@cache
def _schema_ontology_iris() -> dict[str, str]:
    """FAIRtracks ontology IRI → the ontology IRI of the bundle module that provides it."""
    from fairtracks_ld.ontology.bundle import default_bundle_dir
    from fairtracks_ld.ontology.manifest import MANIFEST_NAME

    path = default_bundle_dir() / MANIFEST_NAME
    modules = json.loads(path.read_text(encoding="utf-8")).get("modules", [])
    return {m["schema_ontology_iri"]: m["ontology_iri"] for m in modules
            if m.get("schema_ontology_iri")}


def loaded_ontologies(store: TrackStore) -> dict[str, LoadedOntology]:
    """Loaded ontology graphs by IRI, with version IRI and owl:versionInfo."""
    found = {info.graph: LoadedOntology(info.graph, info.version_iri, None)
             for info in store.ontologies()}
    if found:
        rows = store.ox.query(
            "SELECT ?g ?v WHERE { GRAPH ?g { ?g a owl:Ontology ; owl:versionInfo ?v } }",
            prefixes=_PREFIXES, named_graphs=[ox.NamedNode(g) for g in found],
        )
        for row in rows:
            graph = row["g"].value
            found[graph] = LoadedOntology(graph, found[graph].version_iri, row["v"].value)
    return found


def ontology_version_notes(store: TrackStore, graph: str) -> list[Note]:
    """Compare a document's doc_ontology_versions with the loaded ontologies."""
    entries = members.in_graph(store, graph, "?info ft:doc_ontology_versions ?entry . "
                               "?entry ft:ontology ?ontology ; ft:ontology_version ?version",
                               "?info")
    rows = store.ox.query(
        f"""SELECT ?ontology ?version WHERE {{ {entries} }} ORDER BY STR(?ontology)""",
        prefixes=_PREFIXES,
    )
    rows = [(row["ontology"].value, row["version"].value) for row in rows]
    loaded = loaded_ontologies(store)
    if rows and not loaded:
        return [Note("/doc_info/doc_ontology_versions", "info", "no ontologies are loaded "
                     "(fairtracks-ld ontologies load): ontology versions and terms not checked")]
    aliases = _schema_ontology_iris()
    notes = []
    for ontology, version in rows:
        pointer = "/doc_info/doc_ontology_versions/" + ontology.replace("~", "~0").replace(
            "/", "~1")
        module = loaded.get(aliases.get(ontology, ontology)) or loaded.get(ontology)
        note = _compare(ontology, version, module)
        if note:
            notes.append(Note(pointer, *note))
    return notes


def _compare(ontology: str, version: str, module: LoadedOntology | None) -> tuple[str, str] | None:
    """(level, message) when the document's version differs from what is loaded, else None."""
    if module is None:
        return ("warning", f"the document follows {version}, but no {ontology} is loaded: its "
                           "terms are neither checked nor expanded to ancestors")
    if version == module.version_iri:
        return None
    loaded = module.version_iri or module.version or "an unversioned release"
    loaded_tokens = release_tokens(module.version_iri) | release_tokens(module.version)
    if release_tokens(version) & loaded_tokens:
        return ("info", f"the document names release {version}; the store has the same release "
                        f"as {loaded}")
    return ("warning", f"the document follows {version}, but the store has {loaded} of "
                       f"{module.graph}: ancestor-aware search uses the loaded release")


def release_tokens(text: str | None) -> set[str]:
    """Release identifiers in an IRI or version string (dates, dotted numbers), without 'v'."""
    return set(_VERSION_TOKEN.findall(text or ""))
