"""CURIE -> IRI mapping for the ontologies fairtracks-ld bundles.

Default: OBO PURLs (`NCIT:C12508` -> http://purl.obolibrary.org/obo/NCIT_C12508). Exceptions are
ontologies whose terms live elsewhere; EFO is the one that matters: FAIRtracks documents use
http://www.ebi.ac.uk/efo/EFO_0003042, so that is the canonical IRI, and the OBO PURL form is kept as
an alternative (written as owl:equivalentClass) so both spellings resolve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .vocab import OBO

EFO_PURL_PREFIX = OBO + "EFO_"
EFO_IRI_PREFIX = "http://www.ebi.ac.uk/efo/EFO_"

PREFIX_BASES: dict[str, str] = {
    "EFO": EFO_IRI_PREFIX,
    "Orphanet": "http://www.orpha.net/ORDO/Orphanet_",
    "snap": "http://www.ifomis.org/bfo/1.1/snap#",  # BFO 1.1 names still used by old EFO terms
    "span": "http://www.ifomis.org/bfo/1.1/span#",
    "EDAM_data": "http://edamontology.org/data_",
    "EDAM_format": "http://edamontology.org/format_",
    "EDAM_operation": "http://edamontology.org/operation_",
    "EDAM_topic": "http://edamontology.org/topic_",
}

_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
_CURIE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*):([^\s:][^\s]*)$")
_OBO_DOTTED = re.compile(r"^obo\.([A-Za-z][A-Za-z0-9]*_\S+)$")  # cellxgene writes obo.UBERON_123


def is_iri(value: str) -> bool:
    return bool(_IRI.match(value))


def canonical_iri(iri: str) -> str:
    """The one IRI the bundle uses for a term (EFO OBO PURLs become www.ebi.ac.uk IRIs)."""
    if iri.startswith(EFO_PURL_PREFIX):
        return EFO_IRI_PREFIX + iri[len(EFO_PURL_PREFIX) :]
    return iri


def alternative_iris(iri: str) -> list[str]:
    """Other IRIs that documents may use for the same term."""
    if iri.startswith(EFO_IRI_PREFIX):
        return [EFO_PURL_PREFIX + iri[len(EFO_IRI_PREFIX) :]]
    return []


def curie_to_iri(curie: str, idspaces: Mapping[str, str] | None = None) -> str | None:
    """Expand `PREFIX:LOCAL`; None when `curie` is not a CURIE."""
    match = _CURIE.match(curie)
    if not match:
        return None
    prefix, local = match.groups()
    if idspaces and prefix in idspaces:
        return canonical_iri(idspaces[prefix] + local)
    if prefix in PREFIX_BASES:
        return PREFIX_BASES[prefix] + local
    return f"{OBO}{prefix}_{local}"


def to_iri(value: str, idspaces: Mapping[str, str] | None = None) -> str | None:
    """A term reference as a canonical IRI: a full IRI, a CURIE or cellxgene's `obo.X_1`.

    Returns None for values that name no term (bare words such as OBO's `ObsoleteClass`).
    """
    value = value.strip()
    if is_iri(value):
        return canonical_iri(value)
    dotted = _OBO_DOTTED.match(value)
    if dotted:
        return canonical_iri(OBO + dotted.group(1))
    return curie_to_iri(value, idspaces)


def iri_to_curie(iri: str) -> str:
    """Best-effort short form for messages and counts (`CL:0000236`, `EDAM:format_3613`)."""
    for prefix, base in PREFIX_BASES.items():
        if iri.startswith(base):
            return f"{prefix}:{iri[len(base) :]}"
    if iri.startswith(OBO):
        local = iri[len(OBO) :]
        if "_" in local and "/" not in local and "#" not in local:
            prefix, _, rest = local.partition("_")
            return f"{prefix}:{rest}"
    return iri


def iri_prefix(iri: str) -> str:
    """The CURIE prefix of `iri` (for per-prefix counts); 'other' when there is none."""
    curie = iri_to_curie(iri)
    return curie.split(":", 1)[0] if curie != iri else "other"
