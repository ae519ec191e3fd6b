"""FAIRtracks JSON → a JSON-LD tree for the project context, safely, and its RDF.

The user's JSON never reaches a JSON-LD processor as is. This step walks the document with the
schema layout and writes a new JSON-LD tree in which
- every collection, document, study, experiment, sample and track gets its minted `@id`, nested
  objects get `{entity}#{pointer}`, and `*_ref` values become the IRIs they point at;
- URLs and CURIEs keep their exact string and gain a `<key>_iri` link when they resolve;
- keys beyond the standard (including JSON-LD keywords such as `@id`, `@context`, `@graph`) and
  values of an unexpected JSON type go to the extension namespace under a percent-encoded key,
  as plain literals or `@json` literals: nothing is lost and nothing can redirect the mapping
  or describe a resource outside the document.

The tree is the mapping's JSON-LD (what a JSON-LD processor given the published context reads);
the store gets its triples from `Prepared.ntriples`, written straight from the tree by the same
context (`emit`), without a JSON-LD round trip.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox

from fairtracks_ld.mapping import curies
from fairtracks_ld.mapping.context import (
    IRI_SUFFIX,
    POSITION_TERM,
    load_context,
    resolves,
    term_name,
)
from fairtracks_ld.mapping.emit import Writer, compile_context
from fairtracks_ld.mapping.iris import DEFAULT_DOCUMENT_ID, IriMinter, fragment, resolver_iri
from fairtracks_ld.mapping.notes import Note, Notes
from fairtracks_ld.mapping.unique import SeenIds
from fairtracks_ld.mapping.versions import unsupported
from fairtracks_ld.standard import (
    ENTITY_ARRAYS,
    Layout,
    Prop,
    Variant,
    detect_variant,
    document_layout,
)

# The standard's own global track identifiers (no registry knows the prefix yet): they link to
# this dataset's resolver, `{base}resolve/fairtracks:…`, instead of getting a warning.
FAIRTRACKS_PREFIX = "fairtracks:"


def article(word: str) -> str:
    """'a' or 'an' before a word (by its first letter: good enough for the standard's names)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


class MappingError(ValueError):
    """A document cannot be given stable IRIs (the problem is named with a JSON Pointer)."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer
        self.message = message


@dataclass
class Prepared:
    """A mapped document (its JSON-LD tree and triples), with what the store needs to know."""

    node: dict[str, Any]
    collection_iri: str
    document_iri: str
    graph: str
    doc_version: str
    doc_date: str | None
    variant: str  # a FAIRtracks Variant, or "ensembl" (recorded in the catalog)
    notes: list[Note] | Notes = field(default_factory=list)
    model: str = "fairtracks"  # the input model (fairtracks_ld.mapping.models)
    context: dict[str, Any] | None = None  # the model's context (default: FAIRtracks')
    _ntriples: bytes | None = field(default=None, repr=False)

    def jsonld(self, graph: str | None = None) -> dict[str, Any]:
        """The JSON-LD document, its triples placed in `graph` (default: the version graph)."""
        return {"@context": self.context or load_context(), "@id": graph or self.graph,
                "@graph": [self.node]}

    def jsonld_bytes(self, graph: str | None = None) -> bytes:
        """UTF-8 JSON-LD (what users and the reference path read; the store reads `ntriples`)."""
        try:
            return json.dumps(self.jsonld(graph), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:  # lone surrogates from "\ud800"-style escapes
            raise MappingError("", f"text that is not valid Unicode: {error.reason}") from error

    def ntriples(self) -> bytes:
        """The document's triples as UTF-8 N-Triples, to be loaded into its graph (or any
        other: N-Triples names none); written once from the tree (`prepare` checks it)."""
        if self._ntriples is None:
            writer = Writer(compile_context(self.context or load_context()))
            writer.node(self.node)
            self._ntriples = encode(writer.text())
        return self._ntriples


def encode(text: str) -> bytes:
    """UTF-8 of mapped text; a MappingError for text that is not Unicode."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:  # lone surrogates from "\ud800"-style escapes
        raise MappingError("", f"text that is not valid Unicode: {error.reason}") from error


_TERM_SCHEMES = ("http://", "https://", "ftp://")  # the schemas' term_id pattern


def pointer_token(key: str) -> str:
    """RFC 6901 escaping of one JSON Pointer token."""
    return key.replace("~", "~0").replace("/", "~1")


class _Pointer:
    """A JSON Pointer built only when needed: most properties never need theirs."""

    __slots__ = ("key", "parent")

    def __init__(self, parent: str, key: str) -> None:
        self.parent = parent
        self.key = key

    def __str__(self) -> str:
        return f"{self.parent}/{pointer_token(self.key)}"


def extension_key(key: str) -> str:
    """Compact IRI of a key beyond the standard: percent-encoded so it is never a keyword."""
    return "ftx:" + quote(key, safe="")


def extension_value(value: Any) -> Any:
    """Scalars stay plain literals; null, objects and arrays become JSON literals."""
    if isinstance(value, str | bool | int | float):
        return value
    return {"@value": value, "@type": "@json"}


def is_iri(value: str) -> bool:
    """Absolute IRI by the same rules the store applies."""
    try:
        ox.NamedNode(value)
    except ValueError:
        return False
    return True


class _Walker:
    """One document's walk; collects notes and enforces unique local_ids per entity kind."""

    def __init__(self, minter: IriMinter) -> None:
        self.minter = minter
        self.notes = Notes()

    def note(self, pointer: str, message: str, level: str = "warning") -> None:
        self.notes.append(Note(pointer, level, message))

    def obj(
        self, value: dict[str, Any], layout: Layout, iri: str, entity: str, entity_ptr: str,
        ptr: str,
    ) -> dict[str, Any]:
        node: dict[str, Any] = {"@id": iri, "@type": layout.rdf_class}
        props = layout.props
        for key, item in value.items():
            prop = props.get(key)
            if prop is not None and prop.kind == "literal" and type(item) is str \
                    and not prop.resolvable:
                node[term_name(key)] = item  # the common case, kept short
            elif prop is None or not self.prop(node, prop, item, entity, entity_ptr,
                                               _Pointer(ptr, key)):
                node[extension_key(key)] = extension_value(item)
        return node

    def prop(
        self, node: dict[str, Any], prop: Prop, value: Any, entity: str, entity_ptr: str,
        where: _Pointer,
    ) -> bool:
        """Map one known property; False when its value does not have the declared JSON type."""
        term = term_name(prop.key)
        kind = prop.kind
        if kind == "term":
            if not isinstance(value, str) or not value.startswith(_TERM_SCHEMES) \
                    or not is_iri(value):
                self.note(str(where), f"ontology term_id {value!r} is not an IRI; kept as an "
                          "extension")
                return False
            node[term] = value
            return True
        if kind == "ref":
            if not isinstance(value, str):
                return False
            node[term] = self.minter.entity_iri(prop.ref_target or "", value)
            return True
        ptr = str(where)
        if kind == "literal":
            expected = bool if prop.json_type == "boolean" else str
            if not isinstance(value, expected):
                self.note(ptr, f"expected a {prop.json_type}; kept as an extension value")
                return False
            node[term] = value
            if prop.resolvable:
                self.resolve_into(node, term, [value], prop, ptr)
        elif kind == "object":
            if not isinstance(value, dict) or prop.layout is None:
                return False
            if prop.layout.path == "collection_info":
                iri = self.minter.collection_iri
                node[term] = self.obj(value, prop.layout, iri, iri, ptr, ptr)
            else:
                rel = ptr[len(entity_ptr) + 1:]
                node[term] = self.obj(value, prop.layout, fragment(entity, rel), entity,
                                      entity_ptr, ptr)
        elif kind == "entities":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                return False
            node[term] = self.entities(value, prop, ptr)
        elif kind == "list":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return False
            node[term] = list(value)
            if resolves(prop):
                self.resolve_into(node, term, value, prop, ptr)
        elif kind == "map":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                return False
            node[term] = self.map_entries(value, prop, entity, entity_ptr, ptr)
        return True

    def entities(self, items: list[dict[str, Any]], prop: Prop, ptr: str) -> list[dict]:
        seen = SeenIds()
        return [self.entity(item, index, prop, ptr, seen) for index, item in enumerate(items)]

    def entity(self, item: dict[str, Any], index: int, prop: Prop, ptr: str,
               seen: SeenIds) -> dict[str, Any]:
        """One item of an entity array; `seen` (local_id → index) keeps local_ids unique."""
        kind = ENTITY_ARRAYS[prop.key]
        item_ptr = f"{ptr}/{index}"
        local_id = item.get("local_id")
        if not isinstance(local_id, str) or not local_id:
            found = "it has none" if "local_id" not in item else f"not {json.dumps(local_id)}"
            raise MappingError(item_ptr + "/local_id", f"{article(kind)} {kind} needs a "
                               f"non-empty string local_id to get a stable IRI ({found})")
        earlier = seen.get(local_id)
        if earlier is not None:
            raise MappingError(item_ptr + "/local_id", f"duplicate {kind} local_id "
                               f"{local_id!r} (also at {ptr}/{earlier})")
        seen.add(local_id, index)
        iri = self.minter.entity_iri(kind, local_id)
        assert prop.layout is not None
        node = self.obj(item, prop.layout, iri, iri, item_ptr, item_ptr)
        node[POSITION_TERM] = index
        return node

    def map_entries(
        self, value: dict[str, str], prop: Prop, entity: str, entity_ptr: str, ptr: str
    ) -> list[dict[str, Any]]:
        assert prop.layout is not None
        rel = ptr[len(entity_ptr) + 1:]
        entries = []
        for index, (ontology, version) in enumerate(value.items()):
            entry = {
                "@id": fragment(entity, f"{rel}/{index}"),
                "@type": prop.layout.rdf_class,
                "ontology": ontology,
                "ontology_version": version,
            }
            for term, text in (("ontology", ontology), ("ontology_version", version)):
                if is_iri(text):
                    entry[term + IRI_SUFFIX] = text
            entries.append(entry)
        return entries

    def resolve_into(
        self, node: dict[str, Any], term: str, values: list[str], prop: Prop, ptr: str
    ) -> None:
        iris = []
        for index, value in enumerate(values):
            item_ptr = f"{ptr}/{index}" if prop.kind == "list" else ptr
            if prop.format == "uri":
                if is_iri(value):
                    iris.append(value)
                else:
                    self.note(item_ptr, f"{value!r} is not a valid IRI; no link made")
                continue
            if value.startswith(FAIRTRACKS_PREFIX) and len(value) > len(FAIRTRACKS_PREFIX):
                iris.append(resolver_iri(self.minter.base, value))  # resolved by this dataset
                continue
            resolution = curies.resolve(value)
            if resolution.iri:
                iris.append(resolution.iri)
            if resolution.problem:
                self.note(item_ptr, resolution.problem + "; no link made")
            if resolution.notice:
                self.note(item_ptr, resolution.notice, "info")
        if iris:
            node[term + IRI_SUFFIX] = iris if prop.kind == "list" else iris[0]


def _collection_key(document: dict[str, Any]) -> str:
    info = document.get("collection_info")
    if not isinstance(info, dict):
        raise MappingError("/collection_info", "missing; it names the collection IRIs derive from")
    for key in ("local_id", "short_name"):
        if isinstance(info.get(key), str) and info[key]:
            return info[key]
    raise MappingError("/collection_info", "needs a local_id (or short_name) to mint IRIs")


def _version_key(document: dict[str, Any], digest: str | None = None
                 ) -> tuple[str, str | None, str | None]:
    """(version, doc_id, doc_date); documents without doc_version get a content hash (`digest`
    when the caller computed it while streaming, else `content_digest` of the document)."""
    info = document.get("doc_info") if isinstance(document.get("doc_info"), dict) else {}
    version = info.get("doc_version")
    if not isinstance(version, str) or not version:
        version = "sha256-" + (digest or content_digest(document))
    doc_id = info.get("local_id") if isinstance(info.get("local_id"), str) else None
    doc_date = info.get("doc_date") if isinstance(info.get("doc_date"), str) else None
    return version, doc_id or None, doc_date


class ContentHash:
    """The content hash of a document, fed member by member in any order (also streaming):
    independent of key order and whitespace; entity array items are hashed one by one."""

    def __init__(self) -> None:
        self.members: dict[str, Any] = {}

    def member(self, key: str, value: Any) -> None:
        self.members.setdefault(key, hashlib.sha256()).update(_canonical(value))

    def items(self, key: str, values: Iterable[Any]) -> None:
        hashed = self.members.setdefault(key, hashlib.sha256())
        for value in values:
            hashed.update(_canonical(value) + b"\n")

    def hexdigest(self) -> str:
        total = hashlib.sha256()
        for key in sorted(self.members):
            total.update(_canonical(key) + self.members[key].digest())
        return total.hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


def content_digest(document: dict[str, Any]) -> str:
    hashed = ContentHash()
    for key, value in document.items():
        if key in ENTITY_ARRAYS and isinstance(value, list):
            hashed.items(key, value)
        else:
            hashed.member(key, value)
    return hashed.hexdigest()


class Mapper:
    """Maps one FAIRtracks document: its header (everything but the entity arrays) first,
    then entity array items one at a time, so a document of any size maps in a bounded window.
    """

    def __init__(self, header: Any, base: str, variant: Variant | None = None,
                 digest: str | None = None) -> None:
        if not isinstance(header, dict):
            raise MappingError("", "a FAIRtracks document is a JSON object")
        refused = unsupported(header)  # a newer draft or a single object: say so plainly
        if refused is not None:
            raise MappingError(*refused)
        minter = IriMinter(base, _collection_key(header))
        version, doc_id, doc_date = _version_key(header, digest)
        doc_id = doc_id or DEFAULT_DOCUMENT_ID
        self.layout = document_layout()
        self.walker = _Walker(minter)
        self.document_iri = minter.document_iri(doc_id)
        self.seen: dict[str, SeenIds] = {}  # entity array → local_id → index
        self.prepared = Prepared(
            node=self.members(header),
            collection_iri=minter.collection_iri,
            document_iri=self.document_iri,
            graph=minter.version_graph(doc_id, version),
            doc_version=version,
            doc_date=doc_date,
            variant=variant or detect_variant(header),
            notes=self.walker.notes,
        )

    def members(self, members: dict[str, Any]) -> dict[str, Any]:
        """The document node for some top-level members (arrays of entities mapped whole)."""
        return self.walker.obj(members, self.layout, self.document_iri, self.document_iri,
                               "", "")

    def entity(self, key: str, item: Any, index: int) -> dict[str, Any]:
        """The node of item `index` of the entity array `key` (an object, unique local_id)."""
        if not isinstance(item, dict):
            raise MappingError(f"/{key}/{index}", f"an item of {key} must be a JSON object")
        prop = self.layout.props[key]
        seen = self.seen.get(key)
        if seen is None:
            seen = self.seen[key] = SeenIds()
        return self.walker.entity(item, index, prop, f"/{key}", seen)


def prepare(document: Any, base: str, variant: Variant | None = None) -> Prepared:
    """Map one FAIRtracks document; raises MappingError if it cannot be."""
    prepared = Mapper(document, base, variant).prepared
    prepared.ntriples()  # fail here, before any write, if the text cannot be encoded
    return prepared
