"""Where each track goes in a new index: the previous index's kept tracks are in order already,
so only the new versions' tracks are sorted and placed among them (a bisection each), instead
of every track sorted again; at a million tracks, sorting them all took seconds per snapshot.

The order is the one a build from scratch gives: by IRI, and a track in two current versions
(one IRI in two documents) once per version, in the versions' order.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def merged_order(kept: Sequence[str], kept_graph: np.ndarray, new: Sequence[str],
                 new_graph: np.ndarray) -> np.ndarray:
    """Positions into `kept` + `new` (kept first) in index order. `kept` is sorted by (IRI,
    graph position); `new` is listed version by version in graph order, as `new_graph` says."""
    ranked = sorted(range(len(new)), key=new.__getitem__)  # stable: graph order among equals
    places = np.empty(len(new), dtype=np.int64)  # kept tracks before each new one
    for number, i in enumerate(ranked):
        place = bisect_left(kept, new[i])
        while place < len(kept) and kept[place] == new[i] and kept_graph[place] < new_graph[i]:
            place += 1
        places[number] = place
    order = np.empty(len(kept) + len(new), dtype=np.int64)
    order[places + np.arange(len(new))] = len(kept) + np.array(ranked, dtype=np.int64)
    order[np.arange(len(kept)) + np.searchsorted(places, np.arange(len(kept)), side="right")] = \
        np.arange(len(kept))
    return order


def gather(parts: Sequence[Sequence[T]], order: np.ndarray) -> list[T]:
    """The items of the parts, concatenated, at `order`'s positions."""
    pool = [item for part in parts for item in part]
    return [pool[i] for i in order.tolist()]


def lines(text: str, count: int) -> list[str]:
    """An index's text as its tracks' lines (none for no tracks: "" is one empty line)."""
    return text.split("\n") if count else []
