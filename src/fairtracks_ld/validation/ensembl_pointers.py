"""Where a validation result is in an Ensembl track document, as a JSON Pointer.

Every result is about the one track node (the model's objects are flattened onto it), so the
pointer is the place of the key its path names: a predicate stands for one key of the model
(`ft:assembly_name` → `/genome/genome_assembly`), an `ftx:` value is named by its pointer already,
and a list item gets its index from the original document.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import unquote

import pyoxigraph as ox

from fairtracks_ld import ensembl_model
from fairtracks_ld.mapping.ensembl_context import predicate
from fairtracks_ld.mapping.namespaces import FTX, RDF
from fairtracks_ld.validation.pointers import unquote_token
from fairtracks_ld.validation.shapes import PropertyPath


@cache
def _pointers() -> dict[str, str]:
    """Predicate IRI → the JSON Pointer of the model key it maps."""
    return {predicate(p): p.pointer for p in ensembl_model.properties() if p.json_type != "object"}


def key_pointer(iri: str) -> str | None:
    """The pointer a predicate (or `ftx:` extension) of the Ensembl mapping stands for."""
    if iri.startswith(FTX):
        return "/" + unquote(iri[len(FTX):])
    return _pointers().get(iri)


class EnsemblPointers:
    """JSON Pointers for the results of one Ensembl track document."""

    def __init__(self, document: Any = None) -> None:
        self.document = document

    def pointer(self, focus: str, path: PropertyPath | None, value: ox.Literal | None) -> str:
        if path is None:
            return ""
        if path.kind == "iri":
            return key_pointer(path.iri or "") or ""
        if path.kind == "sequence" and path.items and path.items[0].kind == "iri":
            head = key_pointer(path.items[0].iri or "") or ""
            if path.items[-1].iri == RDF + "first":
                return f"{head}/{self._index(head, value)}"
            return head
        return ""

    def _index(self, pointer: str, value: ox.Literal | None) -> str:
        """The index of a list item, read from the original document ('-' if not found)."""
        node = self.document
        for token in pointer.split("/")[1:]:
            node = node.get(unquote_token(token)) if isinstance(node, dict) else None
        if isinstance(node, list) and value is not None and value.value in node:
            return str(node.index(value.value))
        return "-"
