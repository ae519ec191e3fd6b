"""Where a validation result is in the original JSON: a JSON Pointer such as
`/experiments/0/technique/term_id`.

The node IRI says most of it: entities are `{collection}/{kind}/{local_id}` (their array index is
their `ft:position`), nested objects are `{entity}#{pointer below the entity}`, doc_info hangs off
the document and collection_info is the collection itself. The result path adds the JSON keys
(`ft:<key>`, or the percent-encoded key of an `ftx:` value); list items get their index from the
original document when it is at hand.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pyoxigraph as ox

from fairtracks_ld.mapping.context import SCHEMA_TERM
from fairtracks_ld.mapping.namespaces import FT, FTX, RDF
from fairtracks_ld.mapping.prepare import Prepared, pointer_token
from fairtracks_ld.validation.graphs import DataGraph, in_graph
from fairtracks_ld.validation.shapes import PropertyPath

_MAP_KEYS = {FT + "ontology", FT + "ontology_version"}  # map entries: the key is the pointer


class PointerResolver:
    """JSON Pointers for the nodes of one mapped document."""

    def __init__(self, data: ox.Store, prepared: Prepared, document: Any = None,
                 graph: str | DataGraph | None = None,
                 entities: dict[str, str | None] | None = None) -> None:
        """`graph`: where the document is in `data` (an IRI, a graph, or by default its
        version graph); `entities`: the pointers of entities looked up so far, shared with
        the resolvers of the document's other windows (validation/windows.py)."""
        self.document = document
        self.document_iri = prepared.document_iri
        self.collection_iri = prepared.collection_iri
        if not isinstance(graph, ox.NamedNode | ox.DefaultGraph):
            graph = ox.NamedNode(graph or prepared.graph)
        self.data, self.graph = data, graph
        self._entities = entities if entities is not None else {}  # only those results name
        self.entries: dict[str, str] = {}
        entries = in_graph(graph, f"<{self.document_iri}> <{FT}doc_info>/"
                                  f"<{FT}doc_ontology_versions> ?e . ?e <{FT}ontology> ?o")
        for row in data.query(f"SELECT ?e ?o WHERE {{ {entries} }}"):
            self.entries[row["e"].value] = row["o"].value

    def entity(self, iri: str) -> str | None:
        """`/{array}/{index}` of an entity of the document, looked up in the graph when a result
        names it (an index of every entity would grow with the document)."""
        if iri not in self._entities:
            try:
                node, found = ox.NamedNode(iri), None
            except ValueError:  # a blank node's label: no entity
                return None
            for link in self.data.quads_for_pattern(ox.NamedNode(self.document_iri), None,
                                                    node, self.graph):
                for position in self.data.quads_for_pattern(node, ox.NamedNode(FT + "position"),
                                                            None, self.graph):
                    key = link.predicate.value.removeprefix(FT)
                    found = f"/{key}/{position.object.value}"
                    break
                if found is not None:
                    break
            self._entities[iri] = found
        return self._entities[iri]

    def node(self, iri: str) -> str | None:
        """The pointer of a node of the document (None if it is not one)."""
        base, sep, fragment = iri.partition("#")
        if base == self.document_iri:
            head = ""
        elif base == self.collection_iri:
            head = "/collection_info"
        else:
            entity = self.entity(base)
            if entity is None:
                return None
            head = entity
        if not sep:
            return head
        relative = unquote(fragment)
        if iri in self.entries:
            relative = relative.rsplit("/", 1)[0] + "/" + pointer_token(self.entries[iri])
        return f"{head}/{relative}"

    def pointer(self, focus: str, path: PropertyPath | None, value: ox.Literal | None) -> str:
        """The pointer of a result: its focus node, then the keys of its path."""
        head = self.node(focus)
        if head is None:
            return ""
        keys = _keys(path)
        if keys and keys[-1] == "*":
            keys[-1] = self._index(head, keys[:-1], value)
        return head + "".join(f"/{pointer_token(k)}" for k in keys)

    def _index(self, head: str, keys: list[str], value: ox.Literal | None) -> str:
        """The index of a list item, read from the original document."""
        items = self._resolve(head, keys)
        if isinstance(items, list) and value is not None and value.value in items:
            return str(items.index(value.value))
        return "-"

    def _resolve(self, head: str, keys: list[str]) -> Any:
        node = self.document
        tokens = [unquote_token(t) for t in head.split("/")[1:]] + keys
        for token in tokens:
            if isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            elif isinstance(node, dict) and token in node:
                node = node[token]
            else:
                return None
        return node


def unquote_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def key_of(predicate: str) -> str | None:
    """The JSON key a property stands for (None for the mapping's own terms)."""
    if predicate in _MAP_KEYS:
        return None
    if predicate.startswith(FT):
        name = predicate[len(FT):]
        return "@schema" if name == SCHEMA_TERM else name
    if predicate.startswith(FTX):
        return unquote(predicate[len(FTX):])
    return None


def _keys(path: PropertyPath | None) -> list[str]:
    """JSON keys along a path; a trailing `*` stands for a list item's index."""
    if path is None:
        return []
    if path.kind == "iri":
        key = key_of(path.iri or "")
        return [key] if key else []
    if path.kind == "sequence":
        keys: list[str] = []
        for item in path.items:
            if item.kind == "iri" and item.iri == RDF + "first":
                keys.append("*")
            elif item.kind == "iri":
                keys += _keys(item)
        return keys
    return []
