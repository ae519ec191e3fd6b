"""CURIE → resolvable IRI, offline, with the Bioregistry's prefix data.

OBO Foundry prefixes resolve to OBO PURLs (so `taxonomy:9606` meets NCBITaxon in ontologies),
everything else to identifiers.org. Two facts of real FAIRtracks data are handled explicitly:
`taxonomy` is a synonym of `ncbitaxon`, and `insdc.gca:` values are often RefSeq `GCF_`
accessions, which resolve under `refseq.gcf`. An unknown prefix or an identifier that breaks
the registry's pattern yields no IRI and a note: never a silently wrong IRI.

What the registry says of each prefix is kept in a memo (`fairtracks_ld.memo`) under a hash of
the registry's data, its version and this module, so a process that meets only prefixes seen
before never imports it (0.6 s of CPU).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from fairtracks_ld import memo

_GCF = re.compile(r"^GCF_[0-9]{9}(\.[0-9]+)?$")
_IRI_UNSAFE = re.compile(r"[\x00-\x20<>\"{}|\\^`]")


@dataclass(frozen=True)
class Prefix:
    """What is needed to resolve identifiers of one prefix."""

    name: str
    uri_prefix: str
    pattern: re.Pattern[str] | None


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one CURIE: an IRI, or why there is none."""

    iri: str | None
    problem: str | None = None
    notice: str | None = None


def registry_source() -> list[str | Path]:
    """What the Bioregistry's answers depend on: its version and its data file (for a memo's
    fingerprint; found without importing it)."""
    spec = importlib.util.find_spec("bioregistry")
    assert spec is not None and spec.submodule_search_locations is not None
    data = Path(next(iter(spec.submodule_search_locations))) / "data" / "bioregistry.json"
    return [importlib.metadata.version("bioregistry"), data]


@cache
def _memo() -> memo.Memo:
    return memo.Memo("curie-prefixes", memo.fingerprint(*registry_source(), Path(__file__)))


@cache
def _prefix(name: str) -> Prefix | None:
    kept = _memo()
    if kept.has("prefix", name):
        found = kept.get("prefix", name)
        return None if found is None else Prefix(found[0], found[1], re.compile(found[2])
                                                 if found[2] is not None else None)
    prefix = _registered(name)
    kept.put("prefix", name, None if prefix is None else [
        prefix.name, prefix.uri_prefix, prefix.pattern.pattern if prefix.pattern else None])
    kept.save()
    return prefix


def _registered(name: str) -> Prefix | None:
    """What the registry says of a prefix."""
    import bioregistry  # imported on first use: it takes a second to load its registry

    normalised = bioregistry.normalize_prefix(name)
    if normalised is None:
        return None
    resource = bioregistry.get_resource(normalised)
    obo = resource.get_obofoundry_prefix()
    miriam = resource.get_miriam_prefix()
    if obo:
        uri_prefix = f"http://purl.obolibrary.org/obo/{obo}_"
    elif miriam:
        uri_prefix = f"https://identifiers.org/{miriam}:"
    else:
        uri_prefix = f"https://bioregistry.io/{normalised}:"
    pattern = resource.get_pattern()
    return Prefix(normalised, uri_prefix, re.compile(pattern) if pattern else None)


def is_known_prefix(name: str) -> bool:
    """Whether the registry knows a prefix (synonyms included)."""
    return _prefix(name) is not None


@lru_cache(maxsize=65_536)  # bounded: corpora hold millions of distinct raw-file ids
def resolve(curie: str) -> Resolution:
    """Resolve a CURIE to an IRI, or say why it cannot be resolved."""
    prefix_name, sep, identifier = curie.partition(":")
    if not sep or not prefix_name or not identifier:
        return Resolution(None, f"{curie!r} is not a CURIE (expected prefix:identifier)")
    notice = None
    if prefix_name.lower() == "insdc.gca" and _GCF.match(identifier):
        prefix_name = "insdc.gcf"
        notice = f"{curie!r} is a RefSeq (GCF) accession; resolved under refseq.gcf"
    prefix = _prefix(prefix_name)
    if prefix is None:
        return Resolution(None, f"unknown CURIE prefix {prefix_name!r} in {curie!r}")
    if prefix.pattern is not None and not prefix.pattern.match(identifier):
        return Resolution(
            None,
            f"{identifier!r} does not match the {prefix.name} identifier pattern "
            f"{prefix.pattern.pattern}",
        )
    iri = prefix.uri_prefix + identifier
    if _IRI_UNSAFE.search(identifier) or not _valid_iri(iri):
        return Resolution(None, f"{identifier!r} holds characters that cannot appear in an IRI")
    return Resolution(iri, notice=notice)


def _valid_iri(iri: str) -> bool:
    """The store's own IRI rules (the store loads leniently: every IRI is checked here)."""
    import pyoxigraph

    try:
        pyoxigraph.NamedNode(iri)
    except ValueError:
        return False
    return True
