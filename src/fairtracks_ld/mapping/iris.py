"""Stable IRIs for collections, documents, studies, experiments, samples and tracks.

Pattern (under a configurable base, default the local server's address):

    {base}collection/{collection}                                  the track collection
    {base}collection/{collection}/document/{doc}                   a FAIRtracks document
    {base}collection/{collection}/document/{doc}/version/{version} its named graph, per version
    {base}collection/{collection}/{study|experiment|sample|track}/{local_id}
    {entity}#{json/pointer}                                        nested objects (contact, …)
    {node}#{property}-list-{n}                                     cell n of a node's rdf:List
    {base}resolve/{curie}                                          a global_id's resolver

FAIRtracks local_ids are "submitter-local (within investigation/hub)", so entities are scoped by
their collection; `*_ref` values resolve in the same collection. Every segment is percent-encoded
(only RFC 3986 unreserved characters and ':' stay), so any local_id maps to one IRI and back.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote

DEFAULT_BASE_IRI = "http://localhost:8000/"
BASE_IRI_ENV = "FAIRTRACKS_LD_BASE_IRI"
DEFAULT_DOCUMENT_ID = "default"  # v1-current documents may omit doc_info.local_id

ENTITY_KINDS = ("study", "experiment", "sample", "track")


def default_base_iri() -> str:
    """The base IRI from the environment, else the local server's address."""
    return normalise_base(os.environ.get(BASE_IRI_ENV, DEFAULT_BASE_IRI))


def normalise_base(base: str) -> str:
    """A base IRI must be absolute http(s) and end with '/' so segments append cleanly."""
    import pyoxigraph

    if not base.startswith(("http://", "https://")) or "#" in base or "?" in base:
        raise ValueError(f"base IRI must be an http(s) IRI without query or fragment: {base!r}")
    try:
        pyoxigraph.NamedNode(base)
    except ValueError as error:
        raise ValueError(f"base IRI {base!r} is not a valid IRI: {error}") from error
    return base if base.endswith("/") else base + "/"


_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_~:-][A-Za-z0-9._~:-]*")


def encode_segment(value: str) -> str:
    """Percent-encode one path segment; dot-only segments are encoded so they never collapse."""
    if _SAFE_SEGMENT.fullmatch(value):
        return value  # nothing to encode (the common case: keeps bulk mapping fast)
    encoded = quote(value, safe=":")
    if encoded.strip(".") == "":
        encoded = encoded.replace(".", "%2E")
    return encoded


def decode_segment(segment: str) -> str:
    """Inverse of `encode_segment`."""
    return unquote(segment)


@dataclass(frozen=True)
class IriMinter:
    """Mints the IRIs of one collection under one base."""

    base: str
    collection: str

    @property
    def collection_iri(self) -> str:
        return f"{self.base}collection/{encode_segment(self.collection)}"

    def document_iri(self, doc_id: str) -> str:
        return f"{self.collection_iri}/document/{encode_segment(doc_id)}"

    def version_graph(self, doc_id: str, version: str) -> str:
        return f"{self.document_iri(doc_id)}/version/{encode_segment(version)}"

    def entity_iri(self, kind: str, local_id: str) -> str:
        if kind == "collection":
            return f"{self.base}collection/{encode_segment(local_id)}"
        if kind == "document":
            return self.document_iri(local_id)
        return f"{self.collection_iri}/{kind}/{encode_segment(local_id)}"


SLASH_READING_SEGMENTS = 12  # longer decoded paths are not read again (a 404 stays cheap)


def slash_readings(path: str) -> list[str]:
    """The minted paths (below the base, no leading '/') in which some segment holds a `/`,
    minted as `%2F`, that read as `path` once every `%2F` is decoded: what such an IRI's path
    becomes after a server that decodes paths (granian, as the WSGI specification asks) has
    handed it over. `path` itself is not among them. Each reading splits the segments after
    `collection` by the pattern's keywords (`document`, `version`, an entity kind) in another
    place; more than one names a resource only when ids contain those keywords."""
    segments = [unquote(segment) for segment in path.strip("/").split("/")]
    if segments[0] != "collection" or not 3 <= len(segments) <= SLASH_READING_SEGMENTS:
        return []

    def minted(*parts: list[str]) -> str:
        return "/".join(encode_segment("/".join(part)) for part in parts)

    rest = segments[1:]
    readings: list[str] = []
    for cut in range(1, len(rest) + 1):
        collection, tail = rest[:cut], rest[cut:]
        if not tail:
            readings.append(minted(["collection"], collection))
        elif len(tail) >= 2 and tail[0] in (*ENTITY_KINDS, "document"):
            readings.append(minted(["collection"], collection, tail[:1], tail[1:]))
        if len(tail) >= 4 and tail[0] == "document":
            readings += [minted(["collection"], collection, ["document"], tail[1:at],
                                ["version"], tail[at + 1:])
                         for at in range(2, len(tail) - 1) if tail[at] == "version"]
    direct = minted(*([segment] for segment in segments))
    return [reading for reading in dict.fromkeys(readings) if reading != direct]


def resolver_iri(base: str, curie: str) -> str:
    """Where this dataset resolves a global identifier: `{base}resolve/{curie}` (the server
    redirects to the object that declares it as its global_id)."""
    return f"{base}resolve/{encode_segment(curie)}"


def local_id_of(iri: str) -> str:
    """The local_id a minted entity IRI was made from (its last path segment)."""
    return decode_segment(iri.rsplit("/", 1)[1])


def fragment(node_iri: str, pointer: str) -> str:
    """IRI of a nested object: its JSON Pointer below the entity, as a fragment."""
    return f"{node_iri}#{_fragment_text(pointer)}"


def list_cell(owner: str, predicate: str, position: int) -> str:
    """IRI of cell `position` (from 1) of the rdf:List that is `owner`'s value of `predicate`:
    the list's blank nodes skolemised (RDF 1.1 Concepts §3.5) into hash IRIs of their owner, so
    dereferencing the owner returns them and every load of a document gives the same IRIs.

    `{owner}#{name}-list-{n}`, `name` the predicate's local name (after its last `#` or `/`,
    percent-encoded); an owner that has a fragment already gets `/{name}-list-{n}` added to it,
    a step below it as in a JSON Pointer. Nested objects' fragments are JSON Pointers of schema
    keys and indices, none ending in `-list-{digits}`, so no cell IRI is ever one of theirs."""
    return f"{nested_prefix(owner)}{list_cell_name(predicate)}-list-{position}"


def nested_prefix(owner: str) -> str:
    """What the IRIs of a node's nested nodes (objects, list cells) start with: `{owner}#`, or
    `{owner}/` for an owner that has a fragment (`…#sample_type/cell_type`)."""
    return owner + ("/" if "#" in owner else "#")


@lru_cache(maxsize=256)
def list_cell_name(predicate: str) -> str:
    """The part of a list cell's IRI that names its predicate: the local name, encoded."""
    return quote(re.split("[#/]", predicate)[-1], safe="")


@lru_cache(maxsize=1024)  # pointers repeat across entities: "checksum", "sample_type/cell_type"
def _fragment_text(pointer: str) -> str:
    return quote(pointer, safe="/:")
