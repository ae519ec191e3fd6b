"""What a search field offers first: the values documents actually use, and an ontology roll-up
that starts where the tree starts to divide the tracks.

A researcher looks for "B cell" or "ChIP-seq", not for "material entity". So a field lists its
used values first (the terms documents annotate, most tracks first); the ontology tree is an
optional roll-up view whose top skips the classes that hold every track of the field (they divide
nothing) and single-child chains (a class whose one child holds the same tracks), never skipping
a value a document uses.
"""

from __future__ import annotations

import numpy as np

from fairtracks_ld.search.index import FieldIndex


def used_values(facet: FieldIndex, counts: np.ndarray) -> list[int]:
    """Values documents annotate (not only inferred), still possible, most tracks first."""
    keep = np.flatnonzero(facet.direct & (counts > 0) & ~facet.hidden)
    return [int(v) for v in keep[np.lexsort((keep, -counts[keep]))]]


def _visible_children(facet: FieldIndex, counts: np.ndarray, value: int) -> list[int]:
    return [c for c in facet.children.get(value, []) if counts[c] > 0 and not facet.hidden[c]]


def _used_under(facet: FieldIndex, counts: np.ndarray, value: int,
                memo: dict[int, frozenset[int]]) -> frozenset[int]:
    """The used values at or under `value` (still possible)."""
    if value not in memo:
        found = {value} if facet.direct[value] else set()
        for child in _visible_children(facet, counts, value):
            found |= _used_under(facet, counts, child, memo)
        memo[value] = frozenset(found)
    return memo[value]


def rolled_up(facet: FieldIndex, counts: np.ndarray, values: list[int]) -> list[int]:
    """`values` (tree roots, or one node's children) with every class that divides nothing
    replaced by its children, recursively; most tracks first, no value twice, none under
    another listed one."""
    used = frozenset(used_values(facet, counts))
    memo: dict[int, frozenset[int]] = {}
    shown: dict[int, None] = {}

    def visit(value: int) -> None:
        if counts[value] <= 0 or facet.hidden[value]:
            return
        children = _visible_children(facet, counts, value)
        holds_all = _used_under(facet, counts, value, memo) >= used
        chain = len(children) == 1 and counts[children[0]] == counts[value]
        if children and not facet.direct[value] and (holds_all or chain):
            for child in children:
                visit(child)
        else:
            shown[value] = None

    for value in values:
        visit(value)
    below: set[int] = set()  # a class reached twice in the DAG shows once, at its highest
    for value in shown:
        _descendants(facet, counts, value, below)
    return sorted((v for v in shown if v not in below), key=lambda v: (-int(counts[v]), v))


def _descendants(facet: FieldIndex, counts: np.ndarray, value: int, found: set[int]) -> None:
    for child in _visible_children(facet, counts, value):
        if child not in found:
            found.add(child)
            _descendants(facet, counts, child, found)
