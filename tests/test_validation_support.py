"""Helpers shared by the validation tests (no tests here): JSON Schema validation of the
vendored schemas, rich base documents, and a validator reused across tests."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource

from fairtracks_ld.generate import generate_documents
from fairtracks_ld.standard import detect_variant, load_schemas

OBO = "http://purl.obolibrary.org/obo/"
ROOT = "fairtracks.schema.json"

# Offline format checkers (jsonschema's own need packages this project does not ship):
# RFC 3986 URI syntax, RFC 3339 date-time; idn-email is jsonschema's built-in.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]*$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
FORMATS = FormatChecker(["idn-email"])


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@cache
def schema_validator(variant: str) -> Draft7Validator:
    """The official schemas of a variant, `$ref`s resolved through a registry of the files."""
    schemas = load_schemas(variant)  # type: ignore[arg-type]
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values())
    return Draft7Validator(schemas[ROOT], registry=registry, format_checker=FORMATS)


def schema_errors(document: Any) -> list[str]:
    """JSON Schema errors of a document, with the schema of its variant."""
    variant = detect_variant(document) if isinstance(document, dict) else "v1-current"
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in schema_validator(variant).iter_errors(document)]


def term(iri: str, label: str) -> dict[str, str]:
    return {"term_id": iri, "term_label": label}


@cache
def _base(variant: str) -> str:
    """A small valid document whose first items carry every optional property."""
    doc = next(generate_documents(3, seed=11, variant=variant, tracks_per_document=3))
    contact = {"name": "Ada Berg", "e-mail": "ada.berg@example.org",
               "orcid": "orcid:0000-0002-1825-0097"}
    doc["collection_info"]["contact"] = dict(contact)
    study = doc["studies"][0]
    study.update(global_id="geo:GSE35583", publication="pubmed:22955617", contact=dict(contact))
    experiment = doc["experiments"][0]
    experiment["global_id"] = "geo:GSM945229"
    experiment["aggregated_from"] = ["geo:GSE35583"]
    experiment["technique"] = term(OBO + "OBI_0002017",
                                   "histone modification identification by ChIP-Seq assay")
    target = {
        "sequence_feature": term(OBO + "SO_0001706", "H3K4_trimethylation"),
        "gene_id": "hgnc:13723",
        "gene_product_type": term(OBO + "NCIT_C17207", "Transcription Factor"),
        "macromolecular_structure": term(OBO + "NCIT_C13402", "chromatin"),
        "phenotype": term(OBO + "NCIT_C14165", "Normal"),
        "summary": "H3K4_trimethylation",
    }
    target["details" if variant == "master" else "target_details"] = "rep 1"
    experiment["target"] = target
    experiment["lab_protocol_description"] = "https://example.org/protocol.pdf"
    experiment["compute_protocol_description"] = "pipeline v1"
    sample = doc["samples"][0]
    sample["global_id"] = "biosample:SAMN01731491"
    sample["biospecimen_class"] = term(OBO + "NCIT_C12508", "Cell")
    sample_type = {
        "cell_type": term(OBO + "CL_0000236", "B cell"),
        "abnormal_cell_type": term(OBO + "NCIT_C12913", "Abnormal Cell"),
        "cell_line": term("http://www.ebi.ac.uk/efo/EFO_0003042", "H1-hESC"),
        "organism_part": term(OBO + "UBERON_0000178", "blood"),
        "summary": "B cell (blood)",
    }
    if variant == "master":
        sample_type["details"] = "CD20+"
    sample["sample_type"] = sample_type
    sample["phenotype"] = term(OBO + "NCIT_C14165", "Normal")
    track = doc["tracks"][0]
    track["global_id"] = "fairtracks:1"
    track["raw_file_ids"] = ["encode:ENCFF207FGO"]
    return json.dumps(doc)


def base_document(variant: str) -> dict[str, Any]:
    """A fresh copy of the rich base document of a variant."""
    return copy.deepcopy(json.loads(_base(variant)))


@cache
def validator():
    """One Validator (bundled ontologies, shipped shapes) for the whole test session."""
    from fairtracks_ld.validation import Validator

    return Validator()


def _isolate(document: Any, number: int) -> None:
    """Give a document its own collection (so many can share one dataset)."""
    info = document.get("collection_info") if isinstance(document, dict) else None
    if not isinstance(info, dict):
        return
    key = "local_id" if isinstance(info.get("local_id"), str) else "short_name"
    if not isinstance(info.get(key), str):
        return
    old, info[key] = info[key], f"m{number}"
    for study in document.get("studies") or []:
        if isinstance(study, dict) and study.get("collection_ref") == old:
            study["collection_ref"] = info[key]


def validate_many(documents: list[Any]):
    """Reports of many documents, most validated together in one dataset (test speed-up)."""
    from fairtracks_ld.mapping.prepare import MappingError, prepare

    reports: list[Any] = [None] * len(documents)
    batch, where = [], []
    for index, document in enumerate(documents):
        _isolate(document, index)
        try:
            prepared = prepare(document, validator().base)
        except MappingError:
            reports[index] = validator().document(document)
            continue
        batch.append((prepared, document, f"mutant-{index}"))
        where.append(index)
    for index, report in zip(where, validator().batch(batch), strict=True):
        reports[index] = report
    return reports
