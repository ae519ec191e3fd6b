"""The facet index of one store snapshot: per field, per track a value-combination id, and per
combination the ids of every value it matches (ontology ancestors included).

Built from per-graph segments (reader.py), which are kept across snapshots (segments.py): a
version graph never changes, so after a load only the new graph is read, and its tracks are
merged into the previous index's (merge.py) rather than every track sorted again. Ancestors
come from the stored class closure through reasoning.stored_ancestors (ft:descends_from, and
an obsolete term's replacement as ft:found_under gives it), so the index and the SPARQL the page
shows (the path from a track through the closure) find the same tracks.
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
from fairtracks_ld.search import merge, segments
from fairtracks_ld.search.fields import FIELDS, LICENCE, Field
from fairtracks_ld.search.licence_facet import NOT_STATED, licence_classes
from fairtracks_ld.search.lookups import Lookups, lookups_for
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
    # per combination, the values documents give (ancestors not included): what a refresh
    # extends; numbered as the build met them, so only what they match is comparable
    combos: list[Values] = field(default_factory=list)

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
    track_graph: np.ndarray  # per track, its version's position in `versions`
    versions: list[tuple[str, str]]  # (graph, load time) of the versions the tracks are from
    lookups: Lookups  # the ontology answers a later snapshot's index may reuse

    @property
    def graphs(self) -> list[str]:
        """The version graphs the tracks were read from."""
        return [graph for graph, _ in self.versions]

    def label(self, key: str) -> str:
        return self.labels.get(key, key)

    def graphs_of(self, positions: np.ndarray) -> list[str]:
        """The version graphs holding these tracks: a query about them needs no other graph."""
        return [self.versions[g][0] for g in np.unique(self.track_graph[positions])]


# ---- building --------------------------------------------------------------------------------

_LOCK = threading.Lock()


def _new_segments(store: TrackStore, folder: Path | None, wanted: list[tuple[str, str]]
                  ) -> list[Segment]:
    """The segments of versions (graph, load time) an earlier index did not hold: loaded from
    `folder`, where the writer or another process left them, else read from the graph (and kept
    there for the others); without a folder, read."""
    if folder is None:
        return [read_segment(store, graph) for graph, _ in wanted]
    return [segments.obtain(store, folder, *key) for key in wanted]


def build_index(store: TrackStore, snapshot: str = "", folder: Path | None = None,
                previous: FacetIndex | None = None) -> FacetIndex:
    """The facet index of a store's current view. From `previous` (the index of an earlier
    snapshot of the same store), only the versions it does not hold are read or loaded: their
    tracks are merged into its kept ones (merge.py), its values' ontology answers reused while
    the closure is the same (lookups.py); the result is the index a build from scratch gives.
    Segments are kept in `folder` when given."""
    wanted = sorted((v.graph, v.loaded_at) for v in store.versions() if v.current)
    held = previous.versions if previous is not None else []
    added = sorted(set(wanted) - set(held))
    with _LOCK:
        parts = _new_segments(store, folder, added)
    if folder is not None:
        segments.prune(folder, set(wanted))
    position = {key: number for number, key in enumerate(wanted)}
    old_graph = np.array([position.get(key, -1) for key in held], dtype=np.int32)
    kept = (np.flatnonzero(old_graph[previous.track_graph] >= 0) if previous is not None
            else np.zeros(0, dtype=np.int64))
    new_tracks = [t for s in parts for t in s.tracks]
    new_graph = np.repeat(np.array([position[key] for key in added], dtype=np.int32),
                          [len(s.tracks) for s in parts])
    old_tracks = previous.tracks if previous is not None else []
    kept_tracks = old_tracks if len(kept) == len(old_tracks) else [old_tracks[i] for i in kept]
    kept_graph = old_graph[previous.track_graph[kept]] if previous is not None else new_graph[:0]
    order = merge.merged_order(kept_tracks, kept_graph, new_tracks, new_graph)
    tracks = merge.gather([kept_tracks, new_tracks], order)
    track_graph = np.concatenate((kept_graph, new_graph))[order].astype(np.int32)
    lookups = lookups_for(store, previous.lookups if previous is not None else None)
    fields = {f.name: _field_index(store, f, lookups, parts, order,
                                   previous.fields[f.name] if previous is not None else None,
                                   kept)
              for f in FIELDS}
    fields[LICENCE.name] = derived_index(LICENCE, fields["collection"], licence_classes(store),
                                         NOT_STATED)
    old_lines = merge.lines(previous.text, len(old_tracks)) if previous is not None else []
    kept_lines = old_lines if len(kept) == len(old_lines) else [old_lines[i] for i in kept]
    lines = merge.gather([kept_lines, [t for s in parts for t in s.text]], order)
    lengths = np.fromiter((len(line) + 1 for line in lines), dtype=np.int64, count=len(lines))
    line_starts = np.concatenate(([0], np.cumsum(lengths)))[:-1]
    labels, names = _names(store, fields, lookups)
    totals = {name: f.counts(None) for name, f in fields.items()}
    return FacetIndex(snapshot, tracks, fields, "\n".join(lines), line_starts, labels, names,
                      totals, track_graph, wanted, lookups)


def _field_index(store: TrackStore, field: Field, lookups: Lookups, parts: list[Segment],
                 order: np.ndarray, previous: FieldIndex | None, kept: np.ndarray
                 ) -> FieldIndex:
    combos: dict[Values, int] = (dict.fromkeys(previous.combos) if previous is not None
                                 else {frozenset(): 0})
    for number, combo in enumerate(combos):
        combos[combo] = number
    columns = [previous.column[kept]] if previous is not None else []
    for segment in parts:
        column, local = segment.combos[field.name]
        remap = np.fromiter((combos.setdefault(c, len(combos)) for c in local), dtype=np.int32,
                            count=len(local))
        columns.append(remap[column])
    column = (np.concatenate(columns) if columns else np.zeros(0, dtype=np.int32))[order]
    listed = list(combos)
    used = np.bincount(column, minlength=len(listed)) > 0
    used[0] = True  # the empty combination stays first, as in a build from scratch
    if not used.all():  # combinations only tracks of superseded versions had: their values go
        column = (np.cumsum(used) - 1)[column].astype(np.int32)
        listed = [combo for combo, keep in zip(listed, used, strict=True) if keep]
    direct = {v for combo in listed for v in combo}
    ancestors = (lookups.ancestors(store, direct) if field.ontology
                 else {v: frozenset((v,)) for v in direct})
    keys = sorted({a for found in ancestors.values() for a in found})
    ids = {key: i for i, key in enumerate(keys)}
    starts, members = [0], []
    for combo in listed:
        matched = sorted({ids[a] for v in combo for a in ancestors[v]})
        members.extend(matched)
        starts.append(len(members))
    hidden = np.array([canonical_iri(k) != k and canonical_iri(k) in ids for k in keys],
                      dtype=bool)
    used_values = direct | {canonical_iri(v) for v in direct} if field.iris else direct
    index = FieldIndex(field, keys, ids, column, np.array(starts, dtype=np.int64),
                       np.array(members, dtype=np.int64), hidden,
                       direct=np.array([k in used_values for k in keys], dtype=bool),
                       combos=listed)
    if field.ontology:
        _tree(index, store, lookups)
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


def _tree(index: FieldIndex, store: TrackStore, lookups: Lookups) -> None:
    """Parents and children among the field's listed values (nearest listed ancestors)."""
    listed = {k for k, h in zip(index.keys, index.hidden, strict=True) if not h}
    ancestors = lookups.ancestors(store, listed)
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


def _names(store: TrackStore, fields: dict[str, FieldIndex], lookups: Lookups
           ) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """Display labels of every value, and the names (labels, synonyms) term lookup searches."""
    labels: dict[str, str] = {}
    terms = sorted({k for f in fields.values() if f.field.ontology
                    for k, hidden in zip(f.keys, f.hidden, strict=True) if not hidden})
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for term, named in lookups.ontology_names(store, terms, NAME_PROPERTIES).items():
        found[term].extend(named)
    collections = fields["collection"].keys
    if collections:
        rows = store.query(f"SELECT ?c ?n WHERE {{ {reasoning.values_clause('c', collections)} "
                           "?c ft:short_name ?n }")
        for row in rows:
            found[row[0].value].append(("label", row[1].value))
    if getattr(store.ox, "prefetch", None) is not None:  # a remote store: batched, as above
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
