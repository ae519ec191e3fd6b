"""The view settle's copy of a source into the default graph (current_view.bulk_add): exactly
the source's triples, blank nodes included, whatever the block boundaries; a full disk midway
is an error that a later settle recovers from."""

from __future__ import annotations

import errno
import gc
import os
import re
import subprocess
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import BASE

from fairtracks_ld.store import TrackStore, current_view
from fairtracks_ld.store.snapshots import publish

NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

SOURCE = BASE + "collection/c/document/d/version/v1"


def source_lines(count: int, literal_bytes: int = 40) -> bytes:
    """N-Triples with named and blank subjects and objects, literals holding `_:` and ` .`,
    a language tag and a datatype: what the split of blank-node lines must tell apart."""
    lines = []
    for i in range(count):
        s, p = f"<{BASE}s/{i}>", f"<{BASE}p/{i % 7}>"
        lines += [f'{s} {p} "{"x" * literal_bytes} {i} _:b{i} ." .\n',
                  f"{s} {p} _:b{i} .\n",
                  f'_:b{i} {p} "label _:z{i}"@en .\n',
                  f'_:b{i} {p} "{i}"^^<http://www.w3.org/2001/XMLSchema#integer> .\n',
                  f"{s} {p} <{BASE}o/{i}> .\n"]
    return "".join(lines).encode()


def triples(store: TrackStore, graph: ox.NamedNode | ox.DefaultGraph) -> set[ox.Triple]:
    return {q.triple for q in store.ox.quads_for_pattern(None, None, None, graph)}


@pytest.mark.parametrize(("block", "entities"), [(97, 12), (4096, 300),
                                                (current_view.ADD_BLOCK, 300)])
def test_the_copy_holds_exactly_the_source_triples_with_their_blank_nodes(
        tmp_path, monkeypatch, block, entities):
    store = TrackStore(tmp_path / "store", base=BASE)
    store.ox.load(source_lines(entities), format=ox.RdfFormat.N_TRIPLES,
                  to_graph=ox.NamedNode(SOURCE))
    monkeypatch.setattr(current_view, "ADD_BLOCK", block)  # lines cut across blocks
    source = triples(store, ox.NamedNode(SOURCE))
    assert sum(isinstance(t.subject, ox.BlankNode) for t in source) == 2 * entities
    current_view.bulk_add(store, SOURCE)
    assert triples(store, ox.DefaultGraph()) == source
    current_view.bulk_add(store, SOURCE)  # idempotent: a settle run again adds nothing
    assert current_view.size(store) == len(source)


@pytest.mark.parametrize("block", [97, current_view.ADD_BLOCK])
def test_a_copy_kept_while_writing_gives_the_view_the_very_triples_of_the_graph(
        tmp_path, monkeypatch, block):
    """What write_version does: each chunk split by a ViewCopy (blank-node triples renamed for
    the store) goes into the graph; the settle adds the copy, not a dump, to the view."""
    store = TrackStore(tmp_path / "store", base=BASE)
    graph = ox.NamedNode(SOURCE)
    monkeypatch.setattr(current_view, "ADD_BLOCK", block)
    text = source_lines(40).decode()
    chunks = [text[:len(text) // 2], text[len(text) // 2:]]
    cut = chunks[0].rfind("\n") + 1  # chunks of whole lines
    chunks = [chunks[0][:cut], chunks[0][cut:] + chunks[1]]
    with current_view.ViewCopy.spooled() as copy, current_view.ViewCopy.spooled() as other:
        for chunk in chunks:
            named, blank, renamed = copy.split(chunk.encode())
            assert [q.triple for q in ox.parse(renamed, format=ox.RdfFormat.N_TRIPLES)] == blank
            store.ox.load(named, format=ox.RdfFormat.N_TRIPLES, to_graph=graph)
            store.ox.extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in blank)
        other.split(chunks[0].encode())  # another document's copy: its own blank nodes
        copy.add_to_view(store)
        source = triples(store, graph)
        assert len(source) == 5 * 40 and triples(store, ox.DefaultGraph()) == source
        blank_nodes = {t.subject for t in source if isinstance(t.subject, ox.BlankNode)}
        assert len(blank_nodes) == 40 and all(b.value.startswith(copy.token)
                                              for b in blank_nodes)
        assert copy.token != other.token
        # RDF/XML writes a blank node as rdf:nodeID, an NCName: a letter first
        assert all(NCNAME.fullmatch(b.value) for b in blank_nodes)


def test_blank_node_lines_are_told_apart_from_literals_that_look_like_them():
    named, blank = current_view.split_blank(source_lines(2))
    assert len(blank) == 6 and all(b"_:b" in line.split(b" ")[0] + line[-12:] for line in blank)
    assert named.count(b"\n") == 4 and b'_:b0 ." .' in named and b"_:z" not in named


# ---- a full disk during the copy --------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs here ({done.stderr.strip()})")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """A file taking all but `leave` bytes of the file system."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize > leave:
                out.write(b"\0" * 2**20)
                out.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return filler


def test_a_full_disk_during_the_copy_is_an_error_and_the_next_settle_completes_it(tiny_disk):
    path = tiny_disk / "store"
    store = TrackStore(path, base=BASE)
    store.ox.bulk_load(source_lines(12_000, literal_bytes=600), format=ox.RdfFormat.N_TRIPLES,
                       to_graph=ox.NamedNode(SOURCE))
    store.ox.update(current_view.pending(store, [], [SOURCE]))
    store.flush()
    expected = triples(store, ox.NamedNode(SOURCE))
    filler = fill(tiny_disk, leave=2 * 2**20)
    with pytest.raises(OSError) as raised:
        current_view.settle(store)
    assert raised.value.errno == errno.ENOSPC or "No space left" in str(raised.value)
    assert current_view.unsettled(store) == ([], [SOURCE])  # noted until the copy completes
    del store, raised  # the traceback holds the store open
    gc.collect()
    filler.unlink()
    store = TrackStore(path, base=BASE)  # the next writer, once space is freed
    assert current_view.settle(store) == 1
    assert triples(store, ox.DefaultGraph()) == expected
    assert current_view.unsettled(store) == ([], [])


# ---- removal of a leaving source --------------------------------------------------------------


@pytest.mark.parametrize("likely", [(), ("E",)])
def test_a_leaving_source_takes_from_the_view_exactly_what_no_other_source_holds(
        tmp_path, likely):
    """The successor (`likely`: skipped inside Oxigraph) and any other source keep what they
    hold; a triple written straight into the default graph stays unless the leaving source
    held it; blank-node triples go too."""
    store = TrackStore(tmp_path / "store", base=BASE)
    graphs = {name: BASE + f"graph/{name}" for name in "LEO"}
    lines = source_lines(30).decode().splitlines(keepends=True)
    parts = {"L": lines[:120], "E": lines[20:150], "O": lines[100:110] + lines[:5]}
    for name, part in parts.items():  # each load gives blank nodes fresh ids, as a version's does
        store.ox.load("".join(part).encode(), format=ox.RdfFormat.N_TRIPLES,
                      to_graph=ox.NamedNode(graphs[name]))
    for name in "LO":
        current_view.bulk_add(store, graphs[name])
    own = ox.Triple(ox.NamedNode(BASE + "mine"), ox.NamedNode(BASE + "p"), ox.Literal("x"))
    store.ox.add(ox.Quad(own.subject, own.predicate, own.object))
    held = triples(store, ox.NamedNode(graphs["E"])) | triples(store, ox.NamedNode(graphs["O"]))
    expected = {t for t in triples(store, ox.DefaultGraph()) if t in held} | {own}
    assert len(triples(store, ox.DefaultGraph())) > len(expected)  # something must go
    current_view._remove_unheld(store, graphs["L"], {graphs["E"], graphs["O"]},
                                likely=[graphs[name] for name in likely])
    assert triples(store, ox.DefaultGraph()) == expected


def test_a_view_change_a_failed_write_left_is_settled_before_a_snapshot_is_published(tmp_path):
    """E.g. a batch whose last document's settle met a full disk publishes what loaded before
    it: readers must not get the half-settled view."""
    store = TrackStore(tmp_path / "store", base=BASE)
    store.ox.load(source_lines(20), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(SOURCE))
    store.ox.update(current_view.pending(store, [], [SOURCE]))
    expected = triples(store, ox.NamedNode(SOURCE))
    published = TrackStore(publish(store), base=BASE, read_only=True)
    assert triples(published, ox.DefaultGraph()) == expected
    assert current_view.unsettled(published) == ([], [])
