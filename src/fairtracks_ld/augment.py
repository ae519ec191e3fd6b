"""Offline augmentation: what the FAIRtracks augmentation service (fairtracks_augment) adds to a
document, read from the loaded ontologies and offline tables instead of web services.

`augment(document, ontologies)` returns a new document (the input is not touched) and notes with
JSON Pointers for what was replaced or could not be filled. It follows the service's rules:
- every `term_label` is the ontology's `rdfs:label` of its `term_id`, looked up in the
  ontologies the schema names for that field; a different existing label is replaced (the
  service overwrites too; here a note says so). A term the ontologies do not know keeps the
  document's label, with a warning, where the service would refuse the whole document;
- `doc_ontology_versions`: the release of each loaded ontology, written in the form the master
  schema's pattern asks for (`cl-basic.owl` 2022-12-15 → `…/cl/releases/2022-12-15/cl.owl`);
  an ontology loaded without a release (the NCIT subset) keeps the document's entry;
- `file_name`: the last segment of `file_url`'s path;
- `sample_type.summary`: the label of the sample_type term that `biospecimen_class` selects,
  then in parentheses the organism_part label (when it differs) and `details`:
  "B cell (mesoderm, CD20+)";
- `target.summary`: the first of sequence_feature label, gene_id, gene_product_type label,
  macromolecular_structure label, phenotype label, then " (details)";
- `species_name`: the NCBI Taxonomy scientific name of `species_id`, from the offline species
  table (`standard/ensembl/species.tsv`); unknown taxa keep the document's name or stay unset;
- `doc_info.has_augmented_metadata`: true.

Like the service, it takes minimal documents: a missing field that augmentation writes is not a
reason to refuse the input (`fills`); the output is what must validate.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pyoxigraph as ox

from fairtracks_ld.ensembl_model import scientific_name
from fairtracks_ld.mapping.namespaces import OWL, RDF, RDFS
from fairtracks_ld.mapping.prepare import Note
from fairtracks_ld.ontology.iris import iri_to_curie
from fairtracks_ld.standard import iter_layouts, load_schemas
from fairtracks_ld.term_checks import release_tokens
from fairtracks_ld.validation import Finding
from fairtracks_ld.validation.context import OntologySource

OBO = "http://purl.obolibrary.org/obo/"
SAMPLE_TYPE_BY_CLASS = {  # biospecimen_class term → the sample_type field it selects
    OBO + "NCIT_C12508": "cell_type",
    OBO + "NCIT_C12913": "abnormal_cell_type",
    OBO + "NCIT_C16403": "cell_line",
    OBO + "NCIT_C103199": "organism_part",
}
TARGET_SUMMARY_SOURCES = (  # in the service's order of preference
    ("sequence_feature", "term_label"), ("gene_id",), ("gene_product_type", "term_label"),
    ("macromolecular_structure", "term_label"), ("phenotype", "term_label"),
)


FILLED_KEYS = frozenset({"term_label", "summary", "file_name", "species_name",
                         "doc_ontology_versions", "has_augmented_metadata"})
_MIN_COUNT = "http://www.w3.org/ns/shacl#MinCountConstraintComponent"


def fills(finding: Finding) -> bool:
    """Whether a finding on the input is a missing field that augmentation writes (the
    augmentation service's own test input lacks them all)."""
    if finding.component != _MIN_COUNT or not finding.result_path:
        return False
    return finding.result_path.rsplit("#", 1)[-1].rstrip(">") in FILLED_KEYS


@dataclass
class Augmented:
    """The augmented document and what could not be filled or was replaced."""

    document: dict[str, Any]
    notes: list[Note]

    @property
    def warnings(self) -> list[Note]:
        return [n for n in self.notes if n.level == "warning"]


def augment(document: dict[str, Any], ontologies: OntologySource,
            releases: dict[str, str] | None = None) -> Augmented:
    """The document with every augmented field filled (see the module docstring); `releases`:
    version IRIs the caller states for ontologies loaded without a release (schema ontology
    IRI → version IRI; the bundled NCIT is a subset with none)."""
    doc = copy.deepcopy(document)
    notes: list[Note] = []
    labels = _Labels(ontologies)
    for path, names in term_fields():
        for term, pointer in _objects(doc, path.split("/"), ""):
            _fill_label(term, pointer, names, labels, notes)
    doc_info = doc.setdefault("doc_info", {})
    _fill_versions(doc_info, ontologies, notes, releases or {})
    for index, track in enumerate(_items(doc, "tracks")):
        _fill_file_name(track, f"/tracks/{index}", notes)
    for index, sample in enumerate(_items(doc, "samples")):
        _fill_sample(sample, f"/samples/{index}", notes)
    for index, experiment in enumerate(_items(doc, "experiments")):
        _fill_target_summary(experiment, f"/experiments/{index}", notes)
    _put(doc_info, "has_augmented_metadata", True, "doc_ontology_versions")
    return Augmented(doc, notes)


# ---- term labels ------------------------------------------------------------------------------


@cache
def term_fields() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(path of an ontology term object, the ontologies the schemas name for it), e.g.
    ("experiments/*/technique", (obi.owl, EDAM.owl))."""
    return tuple((layout.path, layout.props["term_id"].ontologies) for layout in iter_layouts()
                 if "term_id" in layout.props and layout.props["term_id"].kind == "term")


class _Labels:
    """rdfs:label of terms in given ontology graphs (an EFO term also under its other IRI)."""

    def __init__(self, source: OntologySource) -> None:
        self.source = source
        self.cache: dict[tuple[str, tuple[str, ...]], str | None] = {}

    def graphs(self, names: tuple[str, ...]) -> list[ox.NamedNode]:
        return [ox.NamedNode(g) for g, name in self.source.graphs.items() if name in names]

    def label(self, term: str, names: tuple[str, ...]) -> str | None:
        key = (term, names)
        if key not in self.cache:
            self.cache[key] = self._lookup(term, self.graphs(names))
        return self.cache[key]

    def _lookup(self, term: str, graphs: list[ox.NamedNode]) -> str | None:
        store, node = self.source.store, ox.NamedNode(term)
        equivalent = ox.NamedNode(OWL + "equivalentClass")
        for graph in graphs:
            candidates = [node, *(q.object for q in store.quads_for_pattern(
                node, equivalent, None, graph)), *(q.subject for q in store.quads_for_pattern(
                    None, equivalent, node, graph))]
            for candidate in candidates:
                found = sorted(q.object.value for q in store.quads_for_pattern(
                    candidate, ox.NamedNode(RDFS + "label"), None, graph))
                if found:
                    return found[0]
        return None


def _fill_label(term: dict[str, Any], pointer: str, names: tuple[str, ...], labels: _Labels,
                notes: list[Note]) -> None:
    term_id = term.get("term_id")
    if not isinstance(term_id, str):
        return
    label, old = labels.label(term_id, names), term.get("term_label")
    at = pointer + "/term_label"
    if label is None:
        named = ", ".join(names)
        where = named if labels.graphs(names) else f"no loaded ontology ({named})"
        kept = f"kept the document's label {old!r}, unchecked" if isinstance(old, str) \
            else "term_label left unset"
        notes.append(Note(at, "warning", f"{iri_to_curie(term_id)} has no label in {where}: "
                                         f"{kept}"))
        return
    if old != label:
        if old is not None:
            notes.append(Note(at, "info", f"replaced {old!r} by the ontology label {label!r}"))
        term["term_label"] = label


# ---- doc_ontology_versions --------------------------------------------------------------------


@cache
def _version_rules() -> dict[str, tuple[re.Pattern[str], str]]:
    """Schema ontology IRI → (the master schema's pattern for its version IRI, an example)."""
    doc_info = load_schemas("master")["fairtracks.schema.json"]["properties"]["doc_info"]
    entries = doc_info["properties"]["doc_ontology_versions"]["properties"]
    return {iri: (re.compile(e["pattern"]), e["examples"][0]) for iri, e in entries.items()}


def ontology_names() -> tuple[str, ...]:
    """The ontologies doc_ontology_versions names (schema ontology IRIs)."""
    return tuple(_version_rules())


def loaded_releases(source: OntologySource) -> dict[str, list[str]]:
    """Schema ontology IRI → what its loaded graph says of its release (owl:versionIRI, then
    owl:versionInfo)."""
    store, found = source.store, {}
    kinds = (ox.NamedNode(OWL + "versionIRI"), ox.NamedNode(OWL + "versionInfo"))
    for graph, name in source.graphs.items():
        g = ox.NamedNode(graph)
        headers = [q.subject for q in store.quads_for_pattern(
            None, ox.NamedNode(RDF + "type"), ox.NamedNode(OWL + "Ontology"), g)]
        found[name] = [q.object.value for h in headers for kind in kinds
                       for q in store.quads_for_pattern(h, kind, None, g)]
    return found


def schema_version_iri(ontology: str, release: list[str]) -> str | None:
    """The release as the master schema writes it: the version IRI itself when it fits the
    schema's pattern, else the schema's example IRI with its release replaced by the loaded one
    (EDAM 1.25 → http://edamontology.org/EDAM_1.25.owl); None when no form fits."""
    pattern, example = _version_rules()[ontology]
    for text in release:
        if pattern.match(text):
            return text
    old = sorted(release_tokens(example))
    for token in sorted({t for text in release for t in release_tokens(text)}):
        for replaced in old:
            candidate = example.replace(replaced, token)
            if pattern.match(candidate):
                return candidate
    return None


def _fill_versions(doc_info: dict[str, Any], source: OntologySource, notes: list[Note],
                   stated: dict[str, str]) -> None:
    versions = doc_info.setdefault("doc_ontology_versions", {})
    if not isinstance(versions, dict):
        notes.append(Note("/doc_info/doc_ontology_versions", "warning",
                          "not an object: left as it is"))
        return
    loaded = loaded_releases(source)
    for ontology in _version_rules():
        pointer = "/doc_info/doc_ontology_versions/" + ontology.replace("~", "~0").replace(
            "/", "~1")
        old = versions.get(ontology)
        new = schema_version_iri(ontology, loaded[ontology]) if ontology in loaded else None
        if new is None and ontology in stated:
            new = stated[ontology]
            notes.append(Note(pointer, "info", f"{new}: the release given for {ontology}"))
        if new is None:
            why = ("is not loaded" if ontology not in loaded else
                   f"is loaded without a release ({', '.join(loaded[ontology]) or 'no version'})")
            kept = (f"kept the document's {old!r}" if old is not None else
                    "left unset (state it with --ontology-version)")
            notes.append(Note(pointer, "info" if old else "warning", f"{ontology} {why}: {kept}"))
        elif new != old:
            if old is not None:
                notes.append(Note(pointer, "info", f"{old} → {new}, the release the labels "
                                                   "were read from"))
            versions[ontology] = new


# ---- file names, summaries, species -----------------------------------------------------------


def _fill_file_name(track: dict[str, Any], pointer: str, notes: list[Note]) -> None:
    url = track.get("file_url")
    name = urlsplit(url).path.rsplit("/", 1)[-1] if isinstance(url, str) else ""
    if not name:
        notes.append(Note(pointer + "/file_name", "warning",
                          f"file_url {url!r} names no file: file_name not filled"))
        return
    _derive(track, "file_name", name, "file_url", pointer, notes, "from file_url")


def _fill_sample(sample: dict[str, Any], pointer: str, notes: list[Note]) -> None:
    sample_type = sample.get("sample_type")
    if isinstance(sample_type, dict):
        _set(sample_type, "summary", _sample_summary(sample, sample_type),
             pointer + "/sample_type/summary", notes)
    species_id = sample.get("species_id")
    taxon = species_id.partition("taxonomy:")[2] if isinstance(species_id, str) else ""
    name = scientific_name(taxon) if taxon else None
    if name is None:
        old = sample.get("species_name")
        kept = f"kept the document's {old!r}, unchecked" if old else "species_name left unset"
        notes.append(Note(pointer + "/species_name", "warning",
                          f"species {species_id!r} is not in the offline species table: {kept}"))
        return
    _derive(sample, "species_name", name, "species_id", pointer, notes, f"({species_id})")


def _derive(obj: dict[str, Any], key: str, value: str, source: str, pointer: str,
            notes: list[Note], why: str) -> None:
    """Set a value derived from `source` (placed after it), noting a replaced one."""
    if obj.get(key) not in (None, value):
        notes.append(Note(f"{pointer}/{key}", "info", f"replaced {obj[key]!r} by {value!r} {why}"))
    _put(obj, key, value, source)


def _sample_summary(sample: dict[str, Any], sample_type: dict[str, Any]) -> str | None:
    biospecimen = sample.get("biospecimen_class")
    field = SAMPLE_TYPE_BY_CLASS.get(_get(biospecimen, "term_id"))
    summary = _get(sample_type.get(field), "term_label") if field else None
    if not isinstance(summary, str):
        return None
    extra = [_get(sample_type.get("organism_part"), "term_label"), sample_type.get("details")]
    extra = [e for e in extra if isinstance(e, str) and e and e != summary]
    return f"{summary} ({', '.join(extra)})" if extra else summary


def _fill_target_summary(experiment: dict[str, Any], pointer: str, notes: list[Note]) -> None:
    target = experiment.get("target")
    if not isinstance(target, dict):
        return
    summary = next((v for path in TARGET_SUMMARY_SOURCES
                    if isinstance(v := _get(target, *path), str) and v), None)
    details = target.get("details", target.get("target_details"))
    if summary and isinstance(details, str) and details:
        summary = f"{summary} ({details})"
    _set(target, "summary", summary, pointer + "/target/summary", notes)


def _set(obj: dict[str, Any], key: str, value: str | None, pointer: str,
         notes: list[Note]) -> None:
    """Set a computed summary, or say why it could not be computed."""
    old = obj.get(key)
    if value is None:
        kept = f"kept the document's {old!r}" if isinstance(old, str) else "left unset"
        notes.append(Note(pointer, "warning", f"no labelled term to summarise: {kept}"))
    elif old != value:
        if old is not None:
            notes.append(Note(pointer, "info", f"replaced {old!r} by {value!r}"))
        obj[key] = value


# ---- JSON helpers -----------------------------------------------------------------------------


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _items(doc: dict[str, Any], array: str) -> list[dict[str, Any]]:
    items = doc.get(array)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _objects(node: Any, segments: list[str], pointer: str) -> Iterator[tuple[dict, str]]:
    """The objects at a layout path ("samples/*/sample_type/cell_type") with their pointers."""
    if not segments:
        if isinstance(node, dict):
            yield node, pointer
        return
    head, rest = segments[0], segments[1:]
    if head == "*":
        for index, item in enumerate(node if isinstance(node, list) else []):
            yield from _objects(item, rest, f"{pointer}/{index}")
    elif isinstance(node, dict) and head in node:
        yield from _objects(node[head], rest, f"{pointer}/{head}")


def _put(obj: dict[str, Any], key: str, value: Any, after: str) -> None:
    """Set `key`, placed right after `after` when it is new (the master example's order:
    file_name after file_url, species_name after species_id)."""
    if key in obj or after not in obj:
        obj[key] = value
        return
    placed: dict[str, Any] = {}
    for k, v in obj.items():
        placed[k] = v
        if k == after:
            placed[key] = value
    obj.clear()
    obj.update(placed)
