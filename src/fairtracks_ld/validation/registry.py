"""CURIE prefixes and identifier patterns, offline, from the Bioregistry.

Two uses: the shapes builder writes each schema `namespace` list as one anchored regex (so the
committed shapes hold the patterns they check), and validation adds a table of every known prefix
and its patterns to the data graph, for fields that accept any registered prefix (`raw_file_ids`).

FAIRtracks documents write RefSeq assemblies under the GenBank prefix (`insdc.gca:GCF_…`), as the
schema's own examples do: `insdc.gca` therefore also accepts the RefSeq `GCF_` pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld import memo
from fairtracks_ld.mapping.curies import registry_source
from fairtracks_ld.validation.vocab import CURIE_PREFIX, PATTERN, PREFIX, RDF

# Raw-file prefixes FAIRtracks collections use (ENCODE, GEO, SRA, ENA, ArrayExpress, EGA): the
# shapes check them with one static pattern; other prefixes are looked up in the table.
COMMON_PREFIXES = ("encode", "geo", "insdc.sra", "ena.embl", "arrayexpress", "ega.dataset")
EXTRA_PATTERNS = {"insdc.gca": ("^GCF_[0-9]{9}(\\.[0-9]+)?$",)}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")  # a CURIE prefix is a URI scheme


def _registry():
    import bioregistry  # slow to import: only when needed

    return bioregistry


_ASCII = {"d": ("[0-9]", "0-9"), "w": ("[A-Za-z0-9_]", "A-Za-z0-9_")}


def ascii_classes(pattern: str) -> str:
    """`\\d` and `\\w` as ASCII ranges: identifiers are ASCII, and Unicode classes make regex
    engines (Rust's, in Oxigraph) compile patterns 10-50 times slower."""
    out, index, in_class = [], 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            nxt = pattern[index + 1]
            if nxt in _ASCII:
                out.append(_ASCII[nxt][1 if in_class else 0])
            else:
                out.append(pattern[index:index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)


@cache
def patterns(prefix: str) -> tuple[str, ...]:
    """The identifier patterns of a prefix (synonyms resolved); () when none is known."""
    bioregistry = _registry()
    normalised = bioregistry.normalize_prefix(prefix)
    found = []
    if normalised is not None and bioregistry.get_pattern(normalised):
        found.append(ascii_classes(bioregistry.get_pattern(normalised)))
    found.extend(EXTRA_PATTERNS.get(prefix, ()))
    return tuple(found)


def _strip_anchors(pattern: str) -> str:
    body = pattern[1:] if pattern.startswith("^") else pattern
    return body[:-1] if body.endswith("$") and not body.endswith("\\$") else body


def namespace_regex(namespaces: tuple[str, ...]) -> str:
    """`^(geo:(G(PL|SM|SE|DS)\\d+)|ega\\.study:(EGAS\\d{11}))$`: prefix and identifier at once.

    A namespace without a known pattern accepts any non-empty identifier (only its prefix can be
    checked offline).
    """
    alternatives = []
    for namespace in namespaces:
        bodies = [f"({_strip_anchors(p)})" for p in patterns(namespace)] or [r"(\S+)"]
        body = bodies[0] if len(bodies) == 1 else "(" + "|".join(bodies) + ")"
        alternatives.append(re.escape(namespace) + ":" + body)
    return "^(" + "|".join(alternatives) + ")$"


def _usable(candidates: dict[str, str]) -> set[str]:
    """Patterns both Python and Oxigraph (Rust regex) compile; others are treated as absent."""
    python_ok = set()
    for pattern in candidates.values():
        try:
            re.compile(pattern)
        except re.error:
            continue
        python_ok.add(pattern)
    values = " ".join(f"({ox.Literal(p)})" for p in sorted(python_ok))
    query = f"SELECT ?p ?ok WHERE {{ VALUES (?p) {{ {values} }} BIND(REGEX('', ?p) AS ?ok) }}"
    store = ox.Store()
    return {row["p"].value for row in store.query(query) if row["ok"] is not None}


@cache
def table() -> dict[str, tuple[str, ...]]:
    """Every registered prefix (names, MIRIAM prefixes, synonyms) → its usable patterns,
    kept in a memo (`fairtracks_ld.memo`) under a hash of the registry, this module and
    Oxigraph's version (0.4 s of CPU, plus the registry's import, saved for each process)."""
    kept = memo.Memo("curie-table", memo.fingerprint(*registry_source(), Path(__file__),
                                                     ox.__version__))
    found = kept.get("table", "all")
    if found is not None:
        return {name: tuple(patterns) for name, patterns in found.items()}
    entries = _table()
    kept.put("table", "all", entries)
    kept.save()
    return entries


def _table() -> dict[str, tuple[str, ...]]:
    bioregistry = _registry()
    names: dict[str, set[str]] = {}
    for key, resource in bioregistry.read_registry().items():
        spellings = {key, resource.get_miriam_prefix() or key, *(resource.get_synonyms() or ())}
        pattern = resource.get_pattern()
        pattern = ascii_classes(pattern) if pattern else None
        for spelling in spellings:
            if _SCHEME.match(spelling):
                entry = names.setdefault(spelling, set())
                if pattern:
                    entry.add(pattern)
    for prefix, extra in EXTRA_PATTERNS.items():
        names.setdefault(prefix, set()).update(extra)
    usable = _usable({p: p for found in names.values() for p in found})
    return {name: tuple(sorted(found & usable)) for name, found in sorted(names.items())}


def table_ntriples(prefixes: Iterable[str] | None = None) -> str:
    """The table as N-Triples (`fts:CuriePrefix` nodes), for the given prefixes or all."""
    entries = table()
    wanted = sorted(entries) if prefixes is None else sorted(set(prefixes) & set(entries))
    lines = []
    for index, spelling in enumerate(wanted):
        node = f"_:prefix{index}"
        lines.append(f"{node} <{RDF}type> <{CURIE_PREFIX}> .\n")
        lines.append(f"{node} <{PREFIX}> {ox.Literal(spelling)} .\n")
        for pattern in entries[spelling]:
            lines.append(f"{node} <{PATTERN}> {ox.Literal(pattern)} .\n")
    return "".join(lines)
