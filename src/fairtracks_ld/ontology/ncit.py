"""The NCIT subset: only the NCIT terms the FAIRtracks JSON Schemas name.

NCIT itself is not available offline, so this module is built from the schemas: every
`http://purl.obolibrary.org/obo/NCIT_C…` IRI they mention becomes a class. Labels come from the
schemas where they give one (a `term_id` enum paired index-by-index with its `term_label` enum, or
a `term_id` default with its `term_label` default). For the rest, labels from NCIt as published by
NCI EVS are used and each such term says so in an rdfs:comment (`LABELS_FROM_NCIT`); a term whose
label is not known offline gets none rather than a guess.

Hierarchy: NCIT's own is unknown, but the schemas imply a little of it. For a technique, the
experiment schema fixes `target.gene_product_type` / `target.macromolecular_structure` to a
constant while the same field requires the term to descend from a given ancestor, so each constant
must descend from that ancestor (`SCHEMA_IMPLIED_ANCESTORS`). Those links are recorded as
hierarchical parents (skos:broader); NCIt's real path between them may be longer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .model import OntologyData, OntologySourceError
from .vocab import OBO

NCIT_ONTOLOGY_IRI = OBO + "ncit.owl"
SUBSET_VERSION_BASE = "https://w3id.org/fairtracks-ld/ontologies/ncit-subset/"
_NCIT = re.compile(r"^http://purl\.obolibrary\.org/obo/NCIT_C\d+$")

# code -> (label, where the label comes from). Only used when no schema gives a label.
LABELS_FROM_NCIT: dict[str, tuple[str, str]] = {
    "C7057": ("Disease, Disorder or Finding", "an NCIt root concept as listed by the NCI EVS API"),
    "C22187": (
        "Experimental Organism Diagnosis",
        "an NCIt root concept as listed by the NCI EVS API",
    ),
    "C26548": ("Gene Product", "an NCIt root concept as listed by the NCI EVS API"),
    "C813": ("Messenger RNA", "NCIt preferred name; not verifiable offline"),
    "C25966": ("MicroRNA", "NCIt preferred name; not verifiable offline"),
    "C17207": ("Transcription Factor", "NCIt preferred name; not verifiable offline"),
    "C14134": ("Macromolecular Structure", "NCIt preferred name; not verifiable offline"),
}

# code -> (ancestor code, schema field that implies it); see the module docstring.
SCHEMA_IMPLIED_ANCESTORS: dict[str, tuple[str, str]] = {
    "C813": ("C26548", "target.gene_product_type (technique OBI_0001271)"),
    "C25966": ("C26548", "target.gene_product_type (technique OBI_0001922)"),
    "C17207": ("C26548", "target.gene_product_type (technique OBI_0002019)"),
    "C13402": ("C14134", "target.macromolecular_structure (technique OBI_0002440)"),
}


def read_schema_ncit(root: Path) -> OntologyData:
    """Collect the NCIT terms named by every `*.schema.json` under `root`."""
    schema_files = sorted(root.rglob("*.schema.json"))
    if not schema_files:
        raise OntologySourceError(root, "no *.schema.json files to take NCIT terms from")
    mentions: dict[str, set[str]] = {}
    labels: dict[str, str] = {}
    for schema_file in schema_files:
        try:
            schema = json.loads(schema_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise OntologySourceError(
                schema_file, f"invalid JSON: {error.msg}", error.lineno
            ) from error
        for keyword, iri in _ncit_mentions(schema, None):
            mentions.setdefault(iri, set()).add(f"{schema_file.name} ({keyword})")
        for iri, label in _schema_labels(schema):
            if labels.setdefault(iri, label) != label:
                raise OntologySourceError(
                    schema_file, f"{iri} is labelled both {labels[iri]!r} and {label!r}"
                )
    return _ontology(root, mentions, labels)


def _ontology(root: Path, mentions: dict[str, set[str]], labels: dict[str, str]) -> OntologyData:
    digest = hashlib.sha256(
        json.dumps(sorted((iri, labels.get(iri)) for iri in mentions)).encode()
    ).hexdigest()[:12]
    data = OntologyData(
        key="ncit",
        ontology_iri=NCIT_ONTOLOGY_IRI,
        version_iri=SUBSET_VERSION_BASE + digest,
        version=f"fairtracks-schema-subset-{digest}",
        source_path=root,
        source_format="fairtracks-schemas",
        title="NCI Thesaurus terms named by the FAIRtracks schemas",
    )
    for iri in sorted(mentions):
        term = data.term(iri)
        code = iri.rsplit("_", 1)[1]
        places = ", ".join(sorted(mentions[iri]))
        if iri in labels:
            term.label = labels[iri]
            term.comments.append(f"Label as given in the FAIRtracks schemas. Named in: {places}.")
        elif code in LABELS_FROM_NCIT:
            term.label, origin = LABELS_FROM_NCIT[code]
            term.comments.append(
                f"Label from NCIt, not from the FAIRtracks schemas ({origin}). Named in: {places}."
            )
            data.count("labels_from_ncit")
        else:
            term.comments.append(f"Label unknown offline. Named in: {places}.")
            data.count("unlabelled")
        if code in SCHEMA_IMPLIED_ANCESTORS:
            ancestor, field = SCHEMA_IMPLIED_ANCESTORS[code]
            term.add("broader", f"{OBO}NCIT_{ancestor}")
            term.comments.append(
                f"Descends from NCIT:{ancestor} as the schema field {field} "
                "requires; NCIt's intermediate classes are not known offline."
            )
    return data


def _ncit_mentions(node: Any, keyword: str | None) -> Iterator[tuple[str, str]]:
    """(schema keyword, NCIT IRI) for every NCIT IRI string anywhere in the schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _ncit_mentions(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _ncit_mentions(item, keyword)
    elif isinstance(node, str) and _NCIT.match(node):
        yield keyword or "value", node


def _schema_labels(node: Any) -> Iterator[tuple[str, str]]:
    """Labels the schema pairs with NCIT term IRIs (enum by index, or default with default)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            term_id, term_label = props.get("term_id"), props.get("term_label")
            if isinstance(term_id, dict) and isinstance(term_label, dict):
                yield from _paired(term_id, term_label)
        for value in node.values():
            yield from _schema_labels(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_labels(item)


def _paired(term_id: dict[str, Any], term_label: dict[str, Any]) -> Iterator[tuple[str, str]]:
    ids, names = term_id.get("enum"), term_label.get("enum")
    if isinstance(ids, list) and isinstance(names, list) and len(ids) == len(names):
        for iri, name in zip(ids, names, strict=True):
            if isinstance(iri, str) and _NCIT.match(iri) and isinstance(name, str):
                yield iri, name
    default_id, default_name = term_id.get("default"), term_label.get("default")
    if isinstance(default_id, str) and _NCIT.match(default_id) and isinstance(default_name, str):
        yield default_id, default_name
