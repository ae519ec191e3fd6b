"""How standard annotation properties map onto Term fields; shared by the RDF and OWL/XML readers.

Definitions are accepted as IAO:0000115, oboInOwl:hasDefinition (EDAM) or skos:definition, and
replacements as IAO:0100001 or oboInOwl:replacedBy, so every source ends up in one vocabulary.
"""

from __future__ import annotations

from .iris import to_iri
from .model import Synonym, Term
from .vocab import (
    HIERARCHICAL_PARENT,
    IAO_DEFINITION,
    IAO_REPLACED_BY,
    OBOINOWL_ALT_ID,
    OBOINOWL_CONSIDER,
    OBOINOWL_HAS_DEFINITION,
    OBOINOWL_REPLACED_BY,
    OWL_DEPRECATED,
    RDFS_LABEL,
    SKOS_DEFINITION,
    SYNONYM_SCOPES,
)

DEFINITION_PROPERTIES = (IAO_DEFINITION, OBOINOWL_HAS_DEFINITION, SKOS_DEFINITION)
REFERENCE_PROPERTIES = {
    IAO_REPLACED_BY: "replaced_by",
    OBOINOWL_REPLACED_BY: "replaced_by",
    OBOINOWL_CONSIDER: "consider",
    HIERARCHICAL_PARENT: "broader",
}
ANNOTATION_PROPERTIES = frozenset(
    {
        RDFS_LABEL,
        OWL_DEPRECATED,
        OBOINOWL_ALT_ID,
        *DEFINITION_PROPERTIES,
        *REFERENCE_PROPERTIES,
        *SYNONYM_SCOPES,
    }
)


def apply_annotation(term: Term, prop: str, value: str, lang: str | None = None) -> bool:
    """Record one annotation on `term`; False when the value could not be used.

    Labels and definitions in a language other than English are ignored so each term keeps one
    label; where a source has several, the first English/untagged one read wins.
    """
    english = lang is None or lang.lower().startswith("en")
    if prop == RDFS_LABEL:
        if english and term.label is None:
            term.label = value
    elif prop in DEFINITION_PROPERTIES:
        if english and (term.definition is None or prop == IAO_DEFINITION):
            term.definition = value
    elif prop in SYNONYM_SCOPES:
        term.add_synonym(Synonym(value, SYNONYM_SCOPES[prop]))
    elif prop == OWL_DEPRECATED:
        term.obsolete = value.strip().lower() in ("true", "1")
    elif prop in REFERENCE_PROPERTIES:
        ref = to_iri(value)  # canonicalises IRIs (EFO) and expands CURIE-valued literals
        if ref is None:
            return False
        term.add(REFERENCE_PROPERTIES[prop], ref)
    elif prop == OBOINOWL_ALT_ID and value not in term.alt_ids:
        term.alt_ids.append(value)
    return True
