"""The input models fairtracks-ld reads, and how a document is recognised as one of them.

- `fairtracks`: a FAIRtracks v1 document (a collection: doc_info, collection_info, studies,
  experiments, samples, tracks; two schema variants);
- `ensembl`: one Ensembl-style track (short_name, genome, release, location; see
  `standard/ensembl/`).

By shape: a document with `@schema` or a FAIRtracks top-level array/object is FAIRtracks, one with
`track_type`, `genome`, `release` or `location` is an Ensembl track. A document with keys of both,
or of neither, is refused with a message that says which keys decided: never a guess.
"""

from __future__ import annotations

from typing import Any

from fairtracks_ld.mapping.prepare import MappingError, Prepared, prepare
from fairtracks_ld.standard import Variant

AUTO = "auto"
FAIRTRACKS, ENSEMBL = "fairtracks", "ensembl"
MODELS = (FAIRTRACKS, ENSEMBL)
CHOICES = (AUTO, *MODELS)
SIGNATURES = {
    FAIRTRACKS: ("@schema", "doc_info", "collection_info", "studies", "experiments", "samples",
                 "tracks"),
    ENSEMBL: ("track_type", "genome", "release", "location"),
}
LABELS = {FAIRTRACKS: "FAIRtracks", ENSEMBL: "Ensembl track"}


def detect(document: Any) -> str:
    """The model a parsed document has the shape of; a MappingError when it has neither's."""
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else f"a {type(document).__name__}"
        raise MappingError("", f"the document is {kind}, not a JSON object: it matches neither "
                           "model (FAIRtracks document, Ensembl track; one track per file)")
    found = {model: [k for k in keys if k in document] for model, keys in SIGNATURES.items()}
    matching = [model for model, keys in found.items() if keys]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise MappingError("", "matches neither model: a FAIRtracks document has "
                           + _keys(FAIRTRACKS) + "; an Ensembl track has " + _keys(ENSEMBL))
    both = "; ".join(f"{LABELS[m]}: {', '.join(found[m])}" for m in matching)
    raise MappingError("", f"has keys of both models ({both}); choose one with --model")


def _keys(model: str) -> str:
    return " or ".join(f"'{key}'" for key in SIGNATURES[model])


def prepare_document(document: Any, base: str, model: str = AUTO,
                     variant: Variant | None = None) -> Prepared:
    """Map a document of the given (or detected) model; raises MappingError if it cannot be."""
    if model == AUTO:
        model = detect(document)
    if model == ENSEMBL:
        from fairtracks_ld.mapping.ensembl import prepare_ensembl

        return prepare_ensembl(document, base)
    if model != FAIRTRACKS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(CHOICES)}")
    return prepare(document, base, variant)


def describe(variant: str) -> str:
    """The model (and FAIRtracks variant) a document was read as, from its catalog variant."""
    return LABELS[ENSEMBL] if variant == ENSEMBL else f"{LABELS[FAIRTRACKS]} {variant}"
