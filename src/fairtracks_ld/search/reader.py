"""Read one document version graph into a segment: per track, the raw values of every field.

Oxigraph answers the multi-join SPARQL that reasoning.read_annotations uses at a few thousand
tracks a second; scanning each property's quads in the graph and joining in Python is several
times faster, and a version graph never changes, so its segment is read once per process.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyoxigraph as ox

from fairtracks_ld.mapping.annotations import ANNOTATIONS
from fairtracks_ld.mapping.namespaces import FT, RDF_TYPE
from fairtracks_ld.search.fields import FIELDS, TO_SAMPLE, Field

Values = frozenset[str]
OWNER_PATHS = {"track": (), "experiment": ("experiment_ref",), "sample": TO_SAMPLE}


@dataclass
class Segment:
    """One graph's tracks (sorted IRIs), per field a combination id per track with the
    combinations it indexes, and each track's lowercased label text."""

    tracks: list[str]
    combos: dict[str, tuple[np.ndarray, list[Values]]]
    text: list[str]


class _Scanner:
    """Property → (subject → objects) maps of one graph, each scanned once."""

    def __init__(self, store: ox.Store, graph: str) -> None:
        self.store = store
        self.graph = ox.NamedNode(graph)
        self.maps: dict[str, dict[str, list[ox.NamedNode | ox.Literal]]] = {}
        self.ends: dict[tuple[str, bool], dict[str, set[str]]] = {}

    def objects(self, prop: str) -> dict[str, list[ox.NamedNode | ox.Literal]]:
        found = self.maps.get(prop)
        if found is None:
            found = defaultdict(list)
            for quad in self.store.quads_for_pattern(None, ox.NamedNode(FT + prop), None,
                                                     self.graph):
                found[quad.subject.value].append(quad.object)
            self.maps[prop] = found
        return found

    def follow(self, path: tuple[str, ...], iris: bool) -> dict[str, set[str]]:
        """subject → the values at the end of `path` (IRIs or literal texts only)."""
        result = self.ends.get((path[-1], iris))
        if result is None:
            wanted = ox.NamedNode if iris else ox.Literal
            result = self.ends[path[-1], iris] = {
                s: {o.value for o in objs if isinstance(o, wanted)}
                for s, objs in self.objects(path[-1]).items()
            }
        for prop in reversed(path[:-1]):
            step: dict[str, set[str]] = {}
            for subject, objs in self.objects(prop).items():
                reached = set()
                for obj in objs:
                    reached |= result.get(obj.value, set())
                if reached:
                    step[subject] = reached
            result = step
        return result


def _kind_path(kind: str) -> tuple[str, ...]:
    owner, path = ANNOTATIONS[kind]
    return (*OWNER_PATHS[owner], *path.replace("ft:", "").split("/"), "term_id")


def _field_values(scanner: _Scanner, field: Field) -> dict[str, set[str]]:
    paths = [_kind_path(kind) for kind in field.kinds] if field.ontology else field.paths
    merged: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        for track, found in scanner.follow(path, field.iris).items():
            merged[track] |= found
    return merged


def read_segment(store: ox.Store, graph: str) -> Segment:
    """Every track of `graph` with its values for each search field."""
    scanner = _Scanner(store, graph)
    tracks = sorted(q.subject.value for q in store.quads_for_pattern(
        None, ox.NamedNode(RDF_TYPE), ox.NamedNode(FT + "Track"), scanner.graph))
    combos: dict[str, tuple[np.ndarray, list[Values]]] = {}
    for field in FIELDS:
        values = _field_values(scanner, field)
        ids: dict[Values, int] = {frozenset(): 0}
        column = np.fromiter(
            (ids.setdefault(frozenset(values.get(t, ())), len(ids)) for t in tracks),
            dtype=np.int32, count=len(tracks))
        combos[field.name] = (column, list(ids))
    short, long = scanner.objects("label_short"), scanner.objects("label_long")
    text = [" ".join(" ".join(o.value for o in (*short.get(t, ()), *long.get(t, ()))).split())
            .lower() for t in tracks]  # one line per track: whitespace runs become a space
    return Segment(tracks, combos, text)
