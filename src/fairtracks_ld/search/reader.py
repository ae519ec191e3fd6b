"""Read one document version graph into a segment: per track, the raw values of every field.

Oxigraph answers a multi-join SPARQL reading each track's annotations at a few thousand tracks a
second; reading the triples of the few properties the fields follow and joining in
Python is several times faster, and a version graph never changes, so its segment is read once
per process. The triples come from the graph's record where it has one (records.graph_triples:
Oxigraph decodes a stored term at ~7 µs, whether Python or its own serializer asks; parsing the
record's lines of those properties costs half that), and a path's first steps, shared by
several fields (track → experiment → sample), are joined once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyoxigraph as ox

from fairtracks_ld import heap
from fairtracks_ld.mapping.annotations import ANNOTATIONS
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.search.fields import FIELDS, TO_SAMPLE, Field
from fairtracks_ld.store import TrackStore, members
from fairtracks_ld.store.records import graph_triples

Values = frozenset[str]
OWNER_PATHS = {"track": (), "experiment": ("experiment_ref",), "sample": TO_SAMPLE}
LABELS = ("label_short", "label_long")  # a track's search text
Links = dict[str, list[str]]  # subject → the IRIs (or literal texts) it links to


@dataclass
class Segment:
    """One graph's tracks (sorted IRIs), per field a combination id per track with the
    combinations it indexes, and each track's lowercased label text."""

    tracks: list[str]
    combos: dict[str, tuple[np.ndarray, list[Values]]]
    text: list[str]


def _paths(field: Field) -> list[tuple[int, tuple[str, ...]]]:
    """The paths a field reads, each with the number of its steps that reach the entity
    carrying the value (the track, its experiment or its sample): the carrier's values are
    gathered once for all its tracks."""
    if not field.ontology:
        return [(len(path) - 1, path) for path in field.paths]
    found = []
    for kind in field.kinds:
        owner, path = ANNOTATIONS[kind]
        to_owner = OWNER_PATHS[owner]
        found.append((len(to_owner),
                      (*to_owner, *path.replace("ft:", "").split("/"), "term_id")))
    return found


PROPERTIES = sorted({step for field in FIELDS for _, path in _paths(field) for step in path}
                    | set(LABELS))  # the ft: properties a segment reads


class _Links:
    """The read properties' triples of one graph, per property and kind of object (IRI,
    blank node, literal: subject → object texts), and subject → the nodes reached along a
    path's first steps (joined once)."""

    def __init__(self, triples: Iterable[ox.Triple | ox.Quad]) -> None:
        self.maps: dict[str, dict[type, Links]] = {
            prop: {ox.NamedNode: defaultdict(list), ox.BlankNode: defaultdict(list),
                   ox.Literal: defaultdict(list)} for prop in PROPERTIES}
        start = len(FT)
        for triple in triples:
            of_kind = self.maps[triple.predicate.value[start:]].get(type(triple.object))
            if of_kind is not None:  # (an RDF 1.2 triple term: no field's)
                of_kind[triple.subject.value].append(triple.object.value)
        self.reached: dict[tuple[str, ...], Links] = {}

    def objects(self, prop: str, kind: type) -> Links:
        return self.maps[prop][kind]

    def links(self, prop: str) -> Links:
        """subject → the nodes (IRIs, blank nodes) `prop` links it to."""
        named, blank = self.objects(prop, ox.NamedNode), self.objects(prop, ox.BlankNode)
        if not blank:  # none in mapped documents (emit.py writes none); a graph may hold some
            return named
        return {s: [*named.get(s, ()), *blank.get(s, ())] for s in named.keys() | blank}

    def nodes(self, path: tuple[str, ...]) -> Links:
        """subject → the nodes reached by following every step of `path` (from the tracks:
        joined once for every field that goes that way)."""
        found = self.reached.get(path)
        if found is None:
            step = self.links(path[-1])
            found = step if len(path) == 1 else _joined(self.nodes(path[:-1]), step)
            self.reached[path] = found
        return found

    def ends(self, path: tuple[str, ...], iris: bool) -> Links:
        """subject → the values at the end of `path` (IRIs or literal texts only), joined
        from the end: over the few subjects of each step."""
        found = self.objects(path[-1], ox.NamedNode if iris else ox.Literal)
        for prop in reversed(path[:-1]):
            found = _joined(self.links(prop), found)
        return found


def _joined(first: Links, then: Links) -> Links:
    """subject → what `then` links to from the nodes `first` links the subject to."""
    result: Links = {}
    for subject, middle in first.items():
        reached = [value for node in middle for value in then.get(node, ())]
        if reached:
            result[subject] = reached
    return result


def _field_values(links: _Links, field: Field) -> dict[str, set[str]]:
    """track → the field's values: each path's values gathered on its carriers, then handed
    to the tracks reaching them (a track reaching one carrier shares its set: read only)."""
    on_carriers: dict[tuple[str, ...], dict[str, set[str]]] = {}
    for to_carrier, path in _paths(field):
        gathered = on_carriers.setdefault(path[:to_carrier], defaultdict(set))
        for carrier, values in links.ends(path[to_carrier:], field.iris).items():
            gathered[carrier].update(values)
    merged: dict[str, set[str]] = {}
    own: set[str] = set()  # tracks whose set is their own (a union), not a carrier's
    for to_carrier, gathered in on_carriers.items():
        reaching = gathered.items() if not to_carrier else (
            (track, gathered[carrier]) for track, carriers in links.nodes(to_carrier).items()
            for carrier in carriers if carrier in gathered)
        for track, values in reaching:
            found = merged.get(track)
            if found is None:
                merged[track] = values
            elif found is not values:
                if track not in own:
                    found = merged[track] = set(found)
                    own.add(track)
                found |= values
    return merged


def _column(tracks: list[str], values: dict[str, set[str]]) -> tuple[np.ndarray, list[Values]]:
    """Per track the id of its combination of values, and the combinations (0: none); a set
    shared by many tracks (their carrier's) is looked up once."""
    ids: dict[Values, int] = {frozenset(): 0}
    of_set: dict[int, int] = {}  # id() of a set → its combination's id

    def combination(track: str) -> int:
        found = values.get(track)
        if found is None:
            return 0
        known = of_set.get(id(found))
        if known is None:
            known = of_set[id(found)] = ids.setdefault(frozenset(found), len(ids))
        return known

    column = np.fromiter(map(combination, tracks), dtype=np.int32, count=len(tracks))
    return column, list(ids)


def read_segment(store: TrackStore, graph: str) -> Segment:
    """Every track of `graph` with its values for each search field (objects by the million,
    no cycles: heap.no_cycle_collection)."""
    with heap.no_cycle_collection():
        return _read_segment(store, graph)


def _read_segment(store: TrackStore, graph: str) -> Segment:
    links = _Links(graph_triples(store, graph, [FT + prop for prop in PROPERTIES]))
    tracks = sorted(s.value for s in members.typed(store, graph, FT + "Track"))
    combos: dict[str, tuple[np.ndarray, list[Values]]] = {}
    for field in FIELDS:
        combos[field.name] = _column(tracks, _field_values(links, field))
    short, long = (links.objects(prop, ox.Literal) for prop in LABELS)
    text = [" ".join(" ".join((*short.get(t, ()), *long.get(t, ()))).split()).lower()
            for t in tracks]  # one line per track: whitespace runs become a space
    return Segment(tracks, combos, text)
