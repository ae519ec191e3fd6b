"""The facet index of one store snapshot: per field, per track a value-combination id, and per
combination the ids of every value it matches (ontology ancestors included).

Built from per-graph segments (reader.py), which are kept across snapshots (segments.py): a
version graph never changes, so after a load only the new graph is read. Ancestors come from
the stored class closure through reasoning.stored_ancestors, the very lookup that writes the
inferred `ft:own_*_ancestor` links on the entities carrying annotations, so the index and the
SPARQL the page shows (the path from a track to those links) find the same tracks.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.ontology.iris import canonical_iri
from fairtracks_ld.queries import LABEL_TIERS
from fairtracks_ld.search import segments
from fairtracks_ld.search.fields import FIELDS, LICENCE, Field
from fairtracks_ld.search.licence_facet import NOT_STATED, licence_classes
from fairtracks_ld.search.reader import Segment, Values, read_segment
from fairtracks_ld.store import TrackStore

NAME_PROPERTIES = {p: tier for tier, props in LABEL_TIERS for p in props}


@dataclass
class FieldIndex:
    """One field: values (keys: IRIs or texts), per track a combination, per combination the
    value ids it matches as CSR arrays, and the value tree (ontology fields)."""

    field: Field
    keys: list[str]
    ids: dict[str, int]
    column: np.ndarray  # combination id per track
    starts: np.ndarray  # CSR: combination c matches members[starts[c]:starts[c + 1]]
    members: np.ndarray
    hidden: np.ndarray  # bool per value: an alternative IRI of a listed one
    parents: dict[int, list[int]] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    # bool per value: a document annotates it (not only inferred as an ancestor)
    direct: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # a derived field (derived_index): per value, the values of its source field it stands for
    stands_for: dict[str, list[str]] = field(default_factory=dict)

    def combination_mask(self, values: np.ndarray) -> np.ndarray:
        """bool per combination: it matches any of `values` (value ids)."""
        chosen = np.zeros(len(self.keys) + 1, dtype=bool)
        chosen[values] = True
        hits = np.zeros(len(self.starts), dtype=np.int64)  # one spare cell for empty tails
        np.add.at(hits, self._owner, chosen[self.members])
        return hits[:-1] > 0

    def counts(self, tracks: np.ndarray | None) -> np.ndarray:
        """Tracks per value among `tracks` (indices; None: all tracks)."""
        column = self.column if tracks is None else self.column[tracks]
        per_combo = np.bincount(column, minlength=len(self.starts) - 1)
        return np.bincount(self.members, weights=per_combo[self._owner],
                           minlength=len(self.keys)).astype(np.int64)

    @property
    def _owner(self) -> np.ndarray:
        owner = getattr(self, "_owner_cache", None)
        if owner is None:
            owner = np.repeat(np.arange(len(self.starts) - 1), np.diff(self.starts))
            self._owner_cache = owner
        return owner


@dataclass
class FacetIndex:
    """Everything the search needs of one snapshot, in memory."""

    snapshot: str
    tracks: list[str]
    fields: dict[str, FieldIndex]
    text: str  # every track's lowercased labels, one line each, in track order
    line_starts: np.ndarray
    labels: dict[str, str]  # value key → display label
    names: list[tuple[str, str, str, str]]  # (lowercased name, field, key, how) for lookup
    totals: dict[str, np.ndarray]  # field → tracks per value over the whole index
    graphs: list[str]  # the version graphs the tracks were read from
    track_graph: np.ndarray  # per track, its graph's position in `graphs`

    def label(self, key: str) -> str:
        return self.labels.get(key, key)

    def graphs_of(self, positions: np.ndarray) -> list[str]:
        """The version graphs holding these tracks: a query about them needs no other graph."""
        return [self.graphs[g] for g in np.unique(self.track_graph[positions])]


# ---- building --------------------------------------------------------------------------------

_SEGMENTS: dict[tuple[str, str], Segment] = {}
_LOCK = threading.Lock()


def _segments(store: TrackStore, folder: Path | None) -> list[tuple[str, Segment]]:
    """The current versions' (graph, segment)s, each read once per (graph, load time): kept on
    disk in `folder` for every process (loading them is fast, and memory holds only the index),
    or in this process's memory without one."""
    wanted = sorted((v.graph, v.loaded_at) for v in store.versions() if v.current)
    if folder is None:
        for key in set(_SEGMENTS) - set(wanted):
            del _SEGMENTS[key]
        for key in wanted:
            if key not in _SEGMENTS:
                _SEGMENTS[key] = read_segment(store.ox, key[0])
        return [(key[0], _SEGMENTS[key]) for key in wanted]
    parts = []
    for key in wanted:
        with segments.claimed(folder, *key):
            found = segments.load(folder, *key)
            if found is None:
                found = read_segment(store.ox, key[0])
                segments.save(folder, *key, found)
        parts.append((key[0], found))
    segments.prune(folder, set(wanted))
    return parts


def build_index(store: TrackStore, snapshot: str = "", folder: Path | None = None
                ) -> FacetIndex:
    """The facet index of a store's current view (reads only what no earlier build read;
    segments are kept in `folder` when given)."""
    with _LOCK:
        found = _segments(store, folder)
    graphs, parts = [g for g, _ in found], [s for _, s in found]
    tracks = [t for s in parts for t in s.tracks]
    order = np.array(sorted(range(len(tracks)), key=tracks.__getitem__), dtype=np.int64)
    tracks = [tracks[i] for i in order]
    fields = {f.name: _field_index(store, f, parts, order) for f in FIELDS}
    fields[LICENCE.name] = derived_index(LICENCE, fields["collection"], licence_classes(store),
                                         NOT_STATED)
    texts = [t for s in parts for t in s.text]
    lines = [texts[i] for i in order]
    lengths = np.fromiter((len(line) + 1 for line in lines), dtype=np.int64, count=len(lines))
    line_starts = np.concatenate(([0], np.cumsum(lengths)))[:-1]
    labels, names = _names(store, fields)
    totals = {name: f.counts(None) for name, f in fields.items()}
    track_graph = np.repeat(np.arange(len(parts), dtype=np.int32),
                            [len(s.tracks) for s in parts])[order]
    return FacetIndex(snapshot, tracks, fields, "\n".join(lines), line_starts, labels, names,
                      totals, graphs, track_graph)


def _field_index(store: TrackStore, field: Field, parts: list[Segment],
                 order: np.ndarray) -> FieldIndex:
    combos: dict[Values, int] = {frozenset(): 0}
    columns = []
    for segment in parts:
        column, local = segment.combos[field.name]
        remap = np.fromiter((combos.setdefault(c, len(combos)) for c in local), dtype=np.int32,
                            count=len(local))
        columns.append(remap[column])
    column = (np.concatenate(columns) if columns else np.zeros(0, dtype=np.int32))[order]
    direct = {v for combo in combos for v in combo}
    ancestors = (reasoning.stored_ancestors(store)(direct) if field.ontology
                 else {v: frozenset((v,)) for v in direct})
    keys = sorted({a for found in ancestors.values() for a in found})
    ids = {key: i for i, key in enumerate(keys)}
    starts, members = [0], []
    for combo in combos:
        matched = sorted({ids[a] for v in combo for a in ancestors[v]})
        members.extend(matched)
        starts.append(len(members))
    hidden = np.array([canonical_iri(k) != k and canonical_iri(k) in ids for k in keys],
                      dtype=bool)
    used = direct | {canonical_iri(v) for v in direct} if field.iris else direct
    index = FieldIndex(field, keys, ids, column, np.array(starts, dtype=np.int64),
                       np.array(members, dtype=np.int64), hidden,
                       direct=np.array([k in used for k in keys], dtype=bool))
    if field.ontology:
        _tree(index, store)
    return index


def derived_index(derived: Field, source: FieldIndex, value_of: Callable[[str], str],
                  default: str) -> FieldIndex:
    """A field whose value is a function of another field's value (a collection's licence):
    the source's tracks and combinations, each source value mapped by `value_of`, `default`
    for a track without one."""
    mapped = {key: value_of(key) for key in source.keys}
    combos: dict[frozenset[str], int] = {}
    of_combination = []
    for number in range(len(source.starts) - 1):
        members = source.members[source.starts[number]:source.starts[number + 1]]
        found = frozenset(mapped[source.keys[m]] for m in members) or frozenset((default,))
        of_combination.append(combos.setdefault(found, len(combos)))
    keys = sorted({value for combo in combos for value in combo})
    ids = {key: index for index, key in enumerate(keys)}
    starts, members_out = [0], []
    for combo in combos:
        members_out.extend(sorted(ids[value] for value in combo))
        starts.append(len(members_out))
    stands_for: dict[str, list[str]] = {key: [] for key in keys}
    for key, value in sorted(mapped.items()):
        stands_for.setdefault(value, []).append(key)
    return FieldIndex(derived, keys, ids, np.array(of_combination, dtype=np.int32)[source.column],
                      np.array(starts, dtype=np.int64), np.array(members_out, dtype=np.int64),
                      np.zeros(len(keys), dtype=bool), direct=np.ones(len(keys), dtype=bool),
                      stands_for=stands_for)


def _tree(index: FieldIndex, store: TrackStore) -> None:
    """Parents and children among the field's listed values (nearest listed ancestors)."""
    listed = {k for k, h in zip(index.keys, index.hidden, strict=True) if not h}
    ancestors = reasoning.stored_ancestors(store)(listed)
    strict = {k: {canonical_iri(a) for a in ancestors[k]} & listed - {k} for k in listed}
    strict = {k: {a for a in found if k not in strict[a]} for k, found in strict.items()}
    for key, found in strict.items():
        covered = set().union(*(strict[a] for a in found)) if found else set()
        parents = sorted(index.ids[a] for a in found - covered)
        index.parents[index.ids[key]] = parents
        for parent in parents:
            index.children.setdefault(parent, []).append(index.ids[key])


def _term_labels(store: TrackStore, term: str) -> Iterator[str]:
    """term_label literals next to `term_id <term>` (index lookups, not SPARQL: quick)."""
    for quad in store.ox.quads_for_pattern(None, ox.NamedNode(FT + "term_id"),
                                           ox.NamedNode(term), None):
        for label in store.ox.quads_for_pattern(quad.subject, ox.NamedNode(FT + "term_label"),
                                                None, quad.graph_name):
            if isinstance(label.object, ox.Literal):
                yield label.object.value


def _names(store: TrackStore, fields: dict[str, FieldIndex]
           ) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """Display labels of every value, and the names (labels, synonyms) term lookup searches."""
    labels: dict[str, str] = {}
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    terms = sorted({k for f in fields.values() if f.field.ontology
                    for k, hidden in zip(f.keys, f.hidden, strict=True) if not hidden})
    graphs = set(reasoning.ontology_graphs(store))
    properties = [ox.NamedNode(p) for p in NAME_PROPERTIES]
    batch = getattr(store.ox, "prefetch", None)  # a remote store (backend.dataset) answers the
    if batch is not None:  # lookups below from a few batched queries instead of one each
        batch(terms, properties)
    for term in terms:  # index lookups: a VALUES query over the ontology graphs is 40x slower
        node = ox.NamedNode(term)
        for prop in properties:
            for quad in store.ox.quads_for_pattern(node, prop, None, None):
                if isinstance(quad.object, ox.Literal) and quad.graph_name in graphs:
                    found[term].append((NAME_PROPERTIES[prop.value], quad.object.value))
    collections = fields["collection"].keys
    if collections:
        rows = store.query(f"SELECT ?c ?n WHERE {{ {reasoning.values_clause('c', collections)} "
                           "?c ft:short_name ?n }")
        for row in rows:
            found[row[0].value].append(("label", row[1].value))
    if batch is not None:
        store.ox.prefetch_term_labels([t for t in terms if t not in found],
                                      ox.NamedNode(FT + "term_id"),
                                      ox.NamedNode(FT + "term_label"))
    for key in terms:
        if key not in found:  # no ontology names it: a document's own term_label
            found[key].extend(("label", label) for label in islice(_term_labels(store, key), 1))
    names = []
    for name, index in fields.items():
        for key, hidden in zip(index.keys, index.hidden, strict=True):
            if hidden:
                continue
            entries = found.get(key) or [("label", key)]
            labels[key] = next((n for how, n in entries if how == "label"), entries[0][1])
            names.extend((n.lower(), name, key, how) for how, n in entries)
    return labels, sorted(set(names))
