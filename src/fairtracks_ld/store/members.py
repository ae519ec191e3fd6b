"""Versions stored once: a current version whose triples are held by the view alone.

A current FAIRtracks version that is the only current document of its collection needs no
named graph of its own: every subject it describes is an IRI under its collection, which no other
source describes, so its triples are exactly the view's triples about those subjects. Such a
version keeps, in the members graph `{base}graph/members`, one quad per entity it describes
(`<e> ft:described_in <version>`; a nested node `<e#checksum>`, an annotation or a list cell
belongs to the entity its IRI names before `#`: `entity`) and its mark (`<version> a
ft:VersionStoredOnce`); its record file (records.py) stays its exact copy, read by dumps and by
a supersede. `GRAPH <version>` and `GRAPH ?g` are answered through the members graph by a
rewrite of the query (sparql/graph_rewrite.py). Each current triple is then written once (3
indexes) instead of twice (its version graph, 6 indexes, and the view, 3): docs/store.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING

import pyoxigraph as ox

from fairtracks_ld.faults import checkpoint
from fairtracks_ld.graph_removal import batch_size, delete_triples, remove_graph
from fairtracks_ld.mapping.namespaces import DESCRIBED_IN, FT, RDF, STORED_ONCE
from fairtracks_ld.sparql import graph_rewrite
from fairtracks_ld.store import current_view, records

if TYPE_CHECKING:
    from fairtracks_ld.store import TrackStore

MEMBERS_PATH = "graph/members"


def rewrite_query(query: str, store: TrackStore,
                  default_graph_uris: Sequence[str] | None = None,
                  named_graph_uris: Sequence[str] | None = None, *, base: str | None = None,
                  ) -> tuple[str, list[str] | None, list[str] | None]:
    """A query and its protocol dataset as they run over `store`: `GRAPH`, `FROM` and the
    dataset over its versions stored once rewritten (sparql/graph_rewrite.py; raises
    GraphRewriteRefused). The versions are read only when the request could name a graph (a
    dataset given, or `graph` / `from` in its text): the usual query pays a substring test."""
    defaults = None if default_graph_uris is None else list(default_graph_uris)
    named = None if named_graph_uris is None else list(named_graph_uris)
    folded = query.casefold()
    if defaults is None and named is None and "graph" not in folded and "from" not in folded:
        return query, None, None
    return graph_rewrite.rewrite_dataset(query, defaults, named, stored_once(store),
                                         graph(store), base=base)


def graph(store: TrackStore) -> str:
    """The members graph of `store`."""
    return store.base + MEMBERS_PATH


def stored_once(store: TrackStore) -> frozenset[str]:
    """The versions stored once (marked in the members graph)."""
    quads = store.ox.quads_for_pattern(None, ox.NamedNode(RDF + "type"),
                                       ox.NamedNode(STORED_ONCE), ox.NamedNode(graph(store)))
    return frozenset(quad.subject.value for quad in quads)


def is_stored_once(store: TrackStore, version: str) -> bool:
    """Whether `version` is stored once."""
    return ox.Quad(ox.NamedNode(version), ox.NamedNode(RDF + "type"), ox.NamedNode(STORED_ONCE),
                   ox.NamedNode(graph(store))) in store.ox


def entity(iri: str) -> str:
    """The entity a node belongs to: its IRI up to any `#` (graph_rewrite.entity in SPARQL)."""
    return iri.split("#", 1)[0]


def version_of(store: TrackStore, subject: str) -> str | None:
    """The version stored once that describes `subject`, if any."""
    for quad in store.ox.quads_for_pattern(ox.NamedNode(entity(subject)),
                                           ox.NamedNode(DESCRIBED_IN),
                                           None, ox.NamedNode(graph(store))):
        return quad.object.value
    return None


def in_graph(store: TrackStore, version: str, pattern: str, anchor: str) -> str:
    """`GRAPH <version> { pattern }` for the store's own queries, which also reach versions
    stored once: for such a version, `pattern` over the view with its `anchor` (a variable or
    IRI every other subject of the pattern is reached from) required to be a node under its
    collection, as every node it describes is (`Lines`). Exact: no other source describes its
    collection's nodes; and a string test is cheaper than the entity's member lookup the
    rewrite of users' queries makes (1.3 s against 3.8 s for the 260k annotation nodes of
    100k tracks)."""
    if version in stored_once(store):
        collection = next(iter(store.ox.quads_for_pattern(
            ox.NamedNode(version), ox.NamedNode(FT + "collection"), None,
            ox.NamedNode(store.catalog)))).object.value
        node = f"STR({anchor})"
        return (f'{{ {pattern} FILTER(STRSTARTS({node}, "{collection}/") || '
                f'STRSTARTS({node}, "{collection}#") || {node} = "{collection}") }}')
    return f"GRAPH <{version}> {{ {pattern} }}"


def typed(store: TrackStore, version: str, cls: str) -> Iterator[ox.NamedNode | ox.BlankNode]:
    """The subjects of `version` typed `cls`: from its named graph, or for a version stored
    once, the view's subjects of that type that are its members."""
    node, rdf_type, kind = ox.NamedNode(version), ox.NamedNode(RDF + "type"), ox.NamedNode(cls)
    if store.ox.contains_named_graph(node) or not is_stored_once(store, version):
        return (q.subject for q in store.ox.quads_for_pattern(None, rdf_type, kind, node))
    described, members = ox.NamedNode(DESCRIBED_IN), ox.NamedNode(graph(store))
    return (q.subject for q in store.ox.quads_for_pattern(None, rdf_type, kind, ox.DefaultGraph())
            if isinstance(q.subject, ox.NamedNode)
            and ox.Quad(ox.NamedNode(entity(q.subject.value)), described, node, members)
            in store.ox)


def quads(store: TrackStore, version: str) -> Iterator[ox.Quad]:
    """A version stored once, as quads in its graph: read from its record (its exact copy),
    or, when the record is missing (a reader of an older snapshot, after a reload removed it),
    from the view's triples about its members and about the nested nodes (`<e#…>`) reached
    from them."""
    node = ox.NamedNode(version)
    path = records.path_of(store, version)
    if path is not None:
        try:
            for block in records.blocks(path):
                for quad in ox.parse(block, format=ox.RdfFormat.N_TRIPLES, lenient=True):
                    yield ox.Quad(quad.subject, quad.predicate, quad.object, node)
            return
        except FileNotFoundError:
            pass
    default = ox.DefaultGraph()
    for member in store.ox.quads_for_pattern(None, ox.NamedNode(DESCRIBED_IN), node,
                                             ox.NamedNode(graph(store))):
        nested = member.subject.value + "#"
        todo, seen = [member.subject], {member.subject}
        while todo:
            for quad in store.ox.quads_for_pattern(todo.pop(), None, None, default):
                yield ox.Quad(quad.subject, quad.predicate, quad.object, node)
                value = quad.object
                if (isinstance(value, ox.NamedNode) and value.value.startswith(nested)
                        and value not in seen):
                    seen.add(value)
                    todo.append(value)


# ---- writing -----------------------------------------------------------------------------------

SWITCH = "FAIRTRACKS_LD_STORE_ONCE"  # "0": no version is stored once
PENDING = FT + "once_pending"  # catalog note: a version being written stored once, not catalogued
RESTORING = FT + "restoring"  # catalog note: a version stored once getting its named graph back
CONVERTING = FT + "converting"  # catalog note: a version whose member quads are being written
DROPPING = FT + "dropping"  # catalog note: a version converted to stored once losing its graph
BULK_BLOCK = 32 << 20  # bytes of N-Triples a bulk-loader call of `restore`


class Lines:
    """The members-graph lines of a version written stored once, chunk by chunk: `of` gives a
    chunk's N-Quads (one `<e> ft:described_in <version> <members>` per distinct entity), and
    `fits` turns false for good when a chunk has a line whose subject is not an IRI under the
    version's collection (a blank node, another source's node): the version then keeps a named
    graph after all."""

    def __init__(self, store: TrackStore, version: str, collection: str) -> None:
        self.tail = f"> <{DESCRIBED_IN}> <{version}> <{graph(store)}> .\n".encode()
        under = re.escape(collection.encode())
        # a run of lines whose subjects have one entity under the collection (the IRI before
        # any `#`: the collection, `{c}/…` or `{c}#…`), the entity captured: the mapping
        # writes a node's lines together, so a chunk is a few runs per entity, found in C (a
        # capture per line, and a Python test per subject, cost 2.5x as much)
        self.runs = re.compile(rb"^<(" + under + rb"(?:/[^>#]*)?)[>#][^\n]*\n"
                               rb"(?:<\1[>#][^\n]*\n)*", re.MULTILINE)
        self.starts = [b"\n<" + collection.encode() + end for end in (b"/", b"#", b">")]
        self.first = re.compile(rb"<" + under + rb"[/#>]")
        self.fits = True

    def of(self, ntriples: bytes) -> bytes:
        """The member quads of a chunk's N-Triples lines (of the entities of its subjects
        under the collection)."""
        if ntriples and not ntriples.endswith(b"\n"):
            ntriples += b"\n"
        under = sum(map(ntriples.count, self.starts)) + bool(self.first.match(ntriples))
        if under != ntriples.count(b"\n"):  # a subject elsewhere, or not an IRI
            self.fits = False
        return b"".join(b"<" + e + self.tail for e in dict.fromkeys(self.runs.findall(ntriples)))


def candidate(store: TrackStore, collection: str, model: str) -> bool:
    """Whether a new version of a FAIRtracks document may be written stored once: the store is on
    disk (records are its exact copy), no current version describes `collection`, and
    `FAIRTRACKS_LD_STORE_ONCE` is not "0" (which keeps every version in a named graph, as
    earlier layouts did, for tools that read the store's named graphs directly)."""
    if store.path is None or model != "fairtracks" or os.environ.get(SWITCH) == "0":
        return False
    return not store.ox.query(
        f"ASK {{ GRAPH <{store.catalog}> {{ ?v <{FT}collection> <{collection}> . "
        f"?doc <{FT}current_version> ?v }} }}")


def stored_once_in(store: TrackStore, collection: str) -> list[str]:
    """The versions stored once among the current versions of `collection`."""
    rows = store.ox.query(
        f"SELECT ?v WHERE {{ GRAPH <{store.catalog}> {{ ?v <{FT}collection> <{collection}> . "
        f"?doc <{FT}current_version> ?v }} GRAPH <{graph(store)}> {{ ?v a <{STORED_ONCE}> }} }}")
    return [row["v"].value for row in rows]


def mark(store: TrackStore, version: str) -> str:
    """SPARQL update operations marking `version` stored once (in its catalog update)."""
    return (f"INSERT DATA {{ GRAPH <{graph(store)}> {{ <{version}> a <{STORED_ONCE}> }} }} ; "
            + unnote(store, version))


def note_pending(store: TrackStore, version: str) -> None:
    """Note, before its first triple is written, that `version` is written stored once: a kill
    before its catalog update then leaves the note, and the sweep removes what was written."""
    store.ox.update(_note(store, "INSERT", PENDING, version))


def remove_members(store: TrackStore, version: str) -> None:
    """Remove `version`'s member quads in flushed transactions (read by object: an index range)."""
    node, members = ox.NamedNode(version), ox.NamedNode(graph(store))
    predicate = ox.NamedNode(DESCRIBED_IN)
    while chunk := list(islice(store.ox.quads_for_pattern(None, predicate, node, members),
                               batch_size())):
        delete_triples(store.ox, [q.triple for q in chunk], members)
        store.ox.flush()
        checkpoint("removing-members")
    if next(iter(store.ox.quads_for_pattern(None, None, None, members)), None) is None:
        store.ox.remove_graph(members)  # its name too: an empty graph stays listed


def unwrite(store: TrackStore, version: str, lines: Iterable[bytes]) -> None:
    """Take back a version written stored once that never became visible (refused, failed, or
    killed before its catalog update): its triples (`lines`, from its record) leave the default
    graph, its member quads the members graph, then its note goes. No other source describes
    its members (`candidate`), so their triples are deleted without looking for holders; a
    triple about another node (a version that was to keep its named graph after all,
    writing._named_after_all) is deleted only if no source holds it."""
    node, described = ox.NamedNode(version), ox.NamedNode(DESCRIBED_IN)
    members = ox.NamedNode(graph(store))
    others: set[str] | None = None
    for block in lines:
        triples = [q.triple for q in ox.parse(block, format=ox.RdfFormat.N_TRIPLES,
                                              lenient=True)]
        for start in range(0, len(triples), batch_size()):
            batch = triples[start:start + batch_size()]
            member = {s: isinstance(s, ox.NamedNode) and ox.Quad(
                          ox.NamedNode(entity(s.value)), described, node, members) in store.ox
                      for s in {t.subject for t in batch}}  # one lookup a subject
            mine = [t for t in batch if member[t.subject]]
            delete_triples(store.ox, mine)
            if len(mine) < len(batch):
                others = current_view.sources(store) if others is None else others
                current_view.remove_unheld(store, [t for t in batch if not member[t.subject]],
                                           others)
            store.ox.flush()
            checkpoint("unwriting")
    remove_members(store, version)
    store.ox.update(unnote(store, version))


def unnote(store: TrackStore, version: str) -> str:
    """The SPARQL update dropping the note that `version` is being written stored once."""
    return _note(store, "DELETE", PENDING, version)


def restore(store: TrackStore, version: str) -> None:
    """Give a version stored once its named graph back, from its record, before it leaves the
    view (superseded, withdrawn, reloaded, or joined by another document of its collection):
    history keeps a named graph. Noted first (`ft:restoring`); the graph is written, then the
    mark goes (from then on the named graph answers), then the member quads, then the note: a
    kill anywhere leaves the note, and the sweep runs the restore again (each step can be
    redone)."""
    store.ox.update(_note(store, "INSERT", RESTORING, version))
    _restore(store, version)


def _restore(store: TrackStore, version: str) -> None:
    path = records.path_of(store, version)
    node = ox.NamedNode(version)
    if path is None:  # a lost record: the view's triples of its members, as `quads` reads
        held = quads(store, version)
        while batch := list(islice(held, batch_size())):
            store.ox.bulk_extend(batch)
            checkpoint("restoring")
    else:
        for block in records.blocks(path, BULK_BLOCK):
            store.ox.bulk_load(block, format=ox.RdfFormat.N_TRIPLES, lenient=True,
                               to_graph=node)
            checkpoint("restoring")
    store.ox.update(f"DELETE DATA {{ GRAPH <{graph(store)}> {{ <{version}> a <{STORED_ONCE}> }} "
                    f"}}")
    remove_members(store, version)
    store.ox.update(_note(store, "DELETE", RESTORING, version))


def convertible(store: TrackStore) -> list[tuple[str, str]]:
    """(version, collection) of each current FAIRtracks version that keeps a named graph but
    could be stored once: the only current version of its collection, with its record (a
    store written before this layout, a version superseding another, a reload)."""
    rows = store.ox.query(
        f"SELECT ?v ?c WHERE {{ GRAPH <{store.catalog}> {{ ?doc <{FT}current_version> ?v . "
        f"?v <{FT}collection> ?c ; <{FT}variant> ?variant FILTER(?variant != \"ensembl\") "
        f"FILTER NOT EXISTS {{ ?other <{FT}current_version> ?w . ?w <{FT}collection> ?c "
        f"FILTER(?w != ?v) }} }} }}")
    return [(row["v"].value, row["c"].value) for row in rows
            if store.ox.contains_named_graph(row["v"])
            and records.path_of(store, row["v"].value) is not None]


def store_once(store: TrackStore, version: str, collection: str) -> bool:
    """Convert a current version with a named graph (`convertible`) to one stored once: noted
    (`ft:converting`), its member quads are written from its record, one update marks it and
    turns the note into `ft:dropping`, its named graph is removed in bounded transactions, then
    the note goes. A kill leaves a note: the sweep takes the member quads back (converting:
    the named graph still answers) or finishes the drop. False, with nothing changed, for a
    version with a subject outside its collection. `migrate` and `optimize` (which the
    background optimizer runs after a big load, so a superseding version is stored once soon
    after) convert."""
    path = records.path_of(store, version)
    if path is None:
        return False
    store.ox.update(_note(store, "INSERT", CONVERTING, version))
    lines = Lines(store, version, collection)
    for block in records.blocks(path, BULK_BLOCK):
        quads = lines.of(block)
        if not lines.fits:
            _unconvert(store, version)
            return False
        store.ox.bulk_load(quads, format=ox.RdfFormat.N_QUADS, lenient=True)
        checkpoint("members-writing")
    store.ox.update(f"INSERT DATA {{ GRAPH <{graph(store)}> {{ <{version}> a <{STORED_ONCE}> }} "
                    f"}} ; {_note(store, 'INSERT', DROPPING, version)} ; "
                    f"{_note(store, 'DELETE', CONVERTING, version)}")
    _drop(store, version)
    return True


def _note(store: TrackStore, operation: str, note: str, version: str) -> str:
    """The SPARQL update adding (`INSERT`) or dropping (`DELETE`) a catalog note."""
    return (f"{operation} DATA {{ GRAPH <{store.catalog}> {{ <{store.catalog}> <{note}> "
            f"<{version}> }} }}")


def _unconvert(store: TrackStore, version: str) -> None:
    """Take back a conversion that did not reach its mark: its member quads, then its note."""
    remove_members(store, version)
    store.ox.update(_note(store, "DELETE", CONVERTING, version))


def _drop(store: TrackStore, version: str) -> None:
    remove_graph(store.ox, version, stage="dropping")
    store.ox.update(_note(store, "DELETE", DROPPING, version))


def _noted(store: TrackStore, note: str) -> list[str]:
    return sorted(q.object.value for q in store.ox.quads_for_pattern(
        ox.NamedNode(store.catalog), ox.NamedNode(note), None, ox.NamedNode(store.catalog)))


def unfinished(store: TrackStore) -> list[str]:
    """Versions a killed write left noted: written stored once before their catalog update,
    getting their named graph back, or being converted to stored once."""
    return (_noted(store, PENDING) + _noted(store, RESTORING) + _noted(store, CONVERTING)
            + _noted(store, DROPPING))


def sweep(store: TrackStore) -> int:
    """Finish what a killed write left of versions stored once: a write killed before its
    catalog update (its note `ft:once_pending`: its triples and members are taken back, read
    from its record's temporary file), a restore killed halfway (`ft:restoring`: run again)
    and a conversion killed while it wrote its member quads (`ft:converting`: taken back) or
    dropped the named graph (`ft:dropping`: finished). Returns how many versions it touched."""
    pending, restoring = _noted(store, PENDING), _noted(store, RESTORING)
    converting, dropping = _noted(store, CONVERTING), _noted(store, DROPPING)
    for version in pending:
        unwrite(store, version, records.unfinished_blocks(store, version))
    for version in restoring:
        _restore(store, version)
    for version in converting:
        _unconvert(store, version)
    for version in dropping:
        _drop(store, version)
    return len(pending) + len(restoring) + len(converting) + len(dropping)
