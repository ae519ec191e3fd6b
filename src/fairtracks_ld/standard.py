"""What FAIRtracks v1 is, read from the vendored JSON Schemas.

The schemas are the single source of truth: the JSON-LD context, the vocabulary, the mapping and
the export are all driven by the property table built here, so they cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from fairtracks_ld.paths import data_dir

SCHEMA_URL = (
    "https://raw.githubusercontent.com/fairtracks/fairtracks_standard/v1/current/json/schema/"
    "fairtracks.schema.json"
)
VARIANTS = ("v1-current", "master")
Variant = Literal["v1-current", "master"]

# Entity arrays of the top-level document and the RDF class/IRI segment of their items.
ENTITY_ARRAYS: dict[str, str] = {
    "studies": "study",
    "experiments": "experiment",
    "samples": "sample",
    "tracks": "track",
}
# `foreignProperty` targets → the entity kind the reference points at.
REF_TARGETS: dict[str, str] = {
    "fairtracks.schema.json#doc_info/local_id": "document",
    "fairtracks.schema.json#collection_info/local_id": "collection",
    "fairtracks_study.schema.json#local_id": "study",
    "fairtracks_experiment.schema.json#local_id": "experiment",
    "fairtracks_sample.schema.json#local_id": "sample",
}
# RDF class of each object, keyed by the object's path from the document root ("*" = array item).
CLASS_BY_PATH: dict[str, str] = {
    "": "Document",
    "doc_info": "DocumentInfo",
    "collection_info": "Collection",
    "collection_info/contact": "Contact",
    "studies/*": "Study",
    "studies/*/contact": "Contact",
    "experiments/*": "Experiment",
    "experiments/*/target": "Target",
    "samples/*": "Sample",
    "samples/*/sample_type": "SampleType",
    "tracks/*": "Track",
    "tracks/*/checksum": "Checksum",
    "doc_info/doc_ontology_versions/*": "OntologyVersion",
}
ONTOLOGY_TERM_CLASS = "OntologyAnnotation"

Kind = Literal["literal", "term", "ref", "object", "entities", "list", "map"]


@dataclass
class Prop:
    """One property of one FAIRtracks object, merged over both schema variants."""

    key: str
    kind: Kind
    json_type: str
    titles: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    format: str | None = None
    namespaces: tuple[str, ...] = ()
    ontologies: tuple[str, ...] = ()  # `ontology` of a term_id: the ontologies its terms come from
    ref_target: str | None = None
    resolvable: bool = False  # a URL or CURIE that also gets a resolved IRI link
    layout: Layout | None = None  # child layout of objects, entity arrays and maps
    item_resolvable: bool = False  # list items are CURIEs
    variants: set[str] = field(default_factory=set)


@dataclass
class Layout:
    """The properties of one kind of object and the RDF class its nodes get."""

    path: str
    rdf_class: str
    props: dict[str, Prop] = field(default_factory=dict)


@cache
def schema_dir(variant: Variant) -> Path:
    """Folder of the vendored schemas of one variant."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown FAIRtracks variant {variant!r}; known: {', '.join(VARIANTS)}")
    return data_dir("standard") / variant / "schema"


@cache
def load_schemas(variant: Variant) -> dict[str, dict[str, Any]]:
    """All schema files of a variant, keyed by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(schema_dir(variant).glob("*.schema.json"))
    }


def example_documents() -> dict[str, Path]:
    """The vendored top-level example document of each variant."""
    root = data_dir("standard")
    return {v: root / v / "examples" / "fairtracks.example.json" for v in VARIANTS}


def detect_variant(document: dict[str, Any]) -> Variant:
    """Both variants share `$id`s; only `master` knows `has_augmented_metadata`."""
    doc_info = document.get("doc_info")
    if isinstance(doc_info, dict) and "has_augmented_metadata" in doc_info:
        return "master"
    return "v1-current"


def _deref(node: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Inline a sub-schema `$ref` (FAIRtracks only references whole files)."""
    ref = node.get("$ref")
    if not ref:
        return node
    merged = dict(schemas[ref.split("#")[0]])
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _classify(key: str, node: dict[str, Any], path: str) -> Kind:
    json_type = node.get("type")
    if path == "doc_info/doc_ontology_versions":
        return "map"
    if json_type == "object":
        return "object"
    if json_type == "array":
        return "entities" if path in ENTITY_ARRAYS else "list"
    if node.get("format") == "term":
        return "term"
    if node.get("format") == "foreign_ref":
        return "ref"
    return "literal"


def _merge_prop(
    layout: Layout, key: str, node: dict[str, Any], path: str, variant: str, schemas: dict
) -> None:
    node = _deref(node, schemas)
    kind = _classify(key, node, path)
    prop = layout.props.get(key)
    if prop is None:
        prop = Prop(key=key, kind=kind, json_type=node.get("type", "string"))
        layout.props[key] = prop
    elif prop.kind != kind:
        raise ValueError(f"{path}: {key!r} is {prop.kind} in one variant and {kind} in another")
    prop.variants.add(variant)
    for attr, value in (("titles", node.get("title")), ("descriptions", node.get("description"))):
        if value and value not in getattr(prop, attr):
            getattr(prop, attr).append(value)
    prop.format = prop.format or node.get("format")
    prop.namespaces = prop.namespaces or _as_tuple(node.get("namespace"))
    prop.ontologies = prop.ontologies or _as_tuple(node.get("ontology"))
    if kind == "literal":
        prop.resolvable = node.get("format") in ("uri", "curie") or bool(prop.namespaces)
    elif kind == "ref":
        prop.ref_target = REF_TARGETS[node["foreignProperty"]]
    elif kind == "list":
        items = node.get("items", {})
        prop.item_resolvable = items.get("format") == "curie" or "namespace" in items
        prop.namespaces = prop.namespaces or _as_tuple(items.get("namespace"))
        if items.get("description") and items["description"] not in prop.descriptions:
            prop.descriptions.append(items["description"])
    elif kind in ("object", "entities", "map"):
        child_path = f"{path}/*" if kind in ("entities", "map") else path
        child_node = _deref(node.get("items", node), schemas) if kind == "entities" else node
        if prop.layout is None:
            prop.layout = Layout(child_path, _class_for(child_path))
        if kind != "map":
            _merge_object(prop.layout, child_node, child_path, variant, schemas)


def _class_for(path: str) -> str:
    return CLASS_BY_PATH.get(path, ONTOLOGY_TERM_CLASS)


def _merge_object(
    layout: Layout, node: dict[str, Any], path: str, variant: str, schemas: dict
) -> None:
    for key, child in node.get("properties", {}).items():
        if key == "@schema" and path:
            continue  # sub-schemas repeat the document's @schema; only the root's is data
        child_path = f"{path}/{key}" if path else key
        _merge_prop(layout, key, child, child_path, variant, schemas)


@cache
def document_layout() -> Layout:
    """The merged layout of a FAIRtracks document over both variants."""
    root = Layout("", _class_for(""))
    for variant in VARIANTS:
        schemas = load_schemas(variant)
        _merge_object(root, schemas["fairtracks.schema.json"], "", variant, schemas)
    return root


def iter_layouts(layout: Layout | None = None):
    """Every layout of the document, depth first."""
    layout = layout or document_layout()
    yield layout
    for prop in layout.props.values():
        if prop.layout is not None:
            yield from iter_layouts(prop.layout)


def iter_props(layout: Layout | None = None):
    """Every (layout, prop) pair of the document."""
    for lay in iter_layouts(layout):
        for prop in lay.props.values():
            yield lay, prop
