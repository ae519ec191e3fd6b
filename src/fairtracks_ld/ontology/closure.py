"""Reader for cellxgene-ontology-guide closure files (`UBERON-ontology-v2026-04-01.json.zst`).

Each entry gives label, description, synonyms, deprecated, replaced_by, consider and the transitive
`ancestors` {CURIE: distance} over is_a and part_of together, restricted to the file's own
ontology. The relation kind is lost, so parents are recorded as *hierarchical parents*
(skos:broader, see `vocab`) and never as is_a.

Parents = the distance-1 ancestors (the direct parents the source asserted) plus the nearest
in-file ancestors that no distance-1 path reaches. The latter happen because foreign ancestors were
filtered out: `EFO:0002888` (Homo sapiens cell line) is an EFO term whose parents are CLO/CL
classes, so its only in-file ancestor is `EFO:0000001` at distance 5 and it would otherwise be an
orphan. These "bridged" parents are counted in stats; with them the parents' transitive closure
equals the `ancestors` the file lists, exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .iris import EFO_IRI_PREFIX, alternative_iris, to_iri
from .model import OntologyData, OntologySourceError, Synonym, SynonymScope
from .vocab import OBO

_NAME = re.compile(r"^(?P<prefix>[A-Za-z]+)-ontology-(?P<version>[^/]+?)\.json(?:\.zst)?$")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def read_closure(path: Path) -> OntologyData:
    """Read a closure file (`.json.zst` or plain `.json`)."""
    raw = path.read_bytes()
    if path.name.endswith(".zst"):
        raw = _zstd_decompress(raw, path)
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise OntologySourceError(path, f"invalid JSON: {error.msg}", error.lineno) from error
    except UnicodeDecodeError as error:
        raise OntologySourceError(path, f"not UTF-8 JSON: {error}") from error
    if not isinstance(entries, dict):
        raise OntologySourceError(path, "expected a JSON object keyed by CURIE")
    return parse_closure(entries, path)


def parse_closure(entries: Mapping[str, Any], path: Path) -> OntologyData:
    """Turn decoded closure entries into the term model."""
    prefix, version = _name_parts(path, entries)
    data = _empty_ontology(path, prefix, version)
    ancestors: dict[str, dict[str, int]] = {}
    for curie, entry in entries.items():
        iri = _iri(curie, path)
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
            raise OntologySourceError(path, f"entry {curie!r} has no string 'label'")
        raw_ancestors = entry.get("ancestors") or {}
        if not isinstance(raw_ancestors, dict):
            raise OntologySourceError(path, f"entry {curie!r}: 'ancestors' must be an object")
        ancestors[iri] = {_iri(a, path): int(d) for a, d in raw_ancestors.items()}
        term = data.term(iri)
        term.label = entry["label"]
        term.definition = entry.get("description") or None
        term.obsolete = bool(entry.get("deprecated"))
        for text in entry.get("synonyms") or []:
            term.add_synonym(Synonym(text, SynonymScope.UNSPECIFIED))
        _add_refs(data, term.iri, "replaced_by", entry.get("replaced_by"))
        _add_refs(data, term.iri, "consider", entry.get("consider"))
        for alternative in alternative_iris(iri):
            term.add("equivalents", alternative)
    _add_parents(data, ancestors)
    return data


def _add_parents(data: OntologyData, ancestors: dict[str, dict[str, int]]) -> None:
    for iri, found in ancestors.items():
        term = data.terms[iri]
        direct = sorted(a for a, distance in found.items() if distance == 1)
        reached: set[str] = set()
        for parent in direct:
            reached.add(parent)
            reached.update(ancestors.get(parent, {}))
        missing = set(found) - reached
        # nearest missing ancestors: those that are not an ancestor of another missing one
        bridged = sorted(
            a for a in missing if not any(a in ancestors.get(b, {}) for b in missing if b != a)
        )
        for parent in direct + bridged:
            term.add("broader", parent)
        data.count("direct_parents", len(direct))
        data.count("bridged_parents", len(bridged))


def _add_refs(data: OntologyData, iri: str, attribute: str, value: object) -> None:
    values = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    for item in values:
        ref = to_iri(item)
        if ref is None:
            data.count("unresolved_references")
        else:
            data.terms[iri].add(attribute, ref)


def _iri(curie: str, path: Path) -> str:
    iri = to_iri(curie)
    if iri is None:
        raise OntologySourceError(path, f"{curie!r} is not a CURIE")
    return iri


def _name_parts(path: Path, entries: Mapping[str, Any]) -> tuple[str, str | None]:
    match = _NAME.match(path.name)
    if match:
        return match.group("prefix").upper(), match.group("version")
    first = next(iter(entries), "")
    if ":" not in first:
        raise OntologySourceError(path, "cannot tell which ontology this closure file holds")
    return first.split(":", 1)[0].upper(), None


def _empty_ontology(path: Path, prefix: str, version: str | None) -> OntologyData:
    key = prefix.lower()
    if prefix == "EFO":
        base = EFO_IRI_PREFIX.rsplit("/", 1)[0] + "/"
        ontology_iri = f"{base}efo.owl"
        version_iri = f"{base}releases/{version}/efo.owl" if version else None
    else:
        ontology_iri = f"{OBO}{key}.owl"
        date = _DATE.search(version or "")
        release = date.group(0) if date else version
        version_iri = f"{OBO}{key}/releases/{release}/{key}.owl" if release else None
    return OntologyData(
        key=key,
        ontology_iri=ontology_iri,
        version_iri=version_iri,
        version=version,
        source_path=path,
        source_format="closure-json",
    )


def _zstd_decompress(raw: bytes, path: Path) -> bytes:
    """Decompress with whichever zstd binding is installed (stdlib 3.14, backport, zstandard)."""
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python >= 3.14
    except ImportError:
        try:
            from backports import zstd  # type: ignore[import-not-found,no-redef]
        except ImportError:
            zstd = None  # type: ignore[assignment]
    try:
        if zstd is not None:
            return zstd.decompress(raw)
        import zstandard  # type: ignore[import-not-found]

        return zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    except ImportError as error:
        raise OntologySourceError(
            path, "reading .zst needs backports.zstd (Python < 3.14) or zstandard"
        ) from error
    except Exception as error:  # each binding raises its own error type
        raise OntologySourceError(path, f"not a valid zstd stream: {error}") from error
