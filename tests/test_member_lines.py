"""`members.Lines`: the member quads of a chunk written stored once (one per entity under the
version's collection) and whether every line's subject is under it (`fits`), checked against
a plain per-line reading of the same lines, on hand-made lines and on a generated document's
chunks."""

from __future__ import annotations

import copy

import pytest
from conftest import BASE, write_json

from fairtracks_ld.mapping.stream import DocumentStream
from fairtracks_ld.sources import DocumentReader
from fairtracks_ld.store import TrackStore, members

COLLECTION = BASE + "collection/c1"
VERSION = BASE + "collection/c1/document/d/version/1"
P = "<http://example.org/p>"


def _expected(ntriples: bytes, collection: str) -> tuple[set[bytes], bool]:
    """The entities (IRI before any `#`) of the subjects under the collection, and whether
    every line's subject is an IRI under it: each line read on its own."""
    entities, fits = set(), True
    for line in ntriples.decode().splitlines():
        subject = line.split(" ", 1)[0]
        iri = subject[1:-1] if subject.startswith("<") else None
        rest = iri[len(collection):] if iri and iri.startswith(collection) else None
        if rest is None or (rest and rest[0] not in "/#"):
            fits = False
            continue
        entities.add(iri.split("#", 1)[0].encode())
    return entities, fits


def _found(lines: members.Lines, ntriples: bytes) -> set[bytes]:
    quads = lines.of(ntriples).decode().splitlines()
    assert all(q.endswith(f"<{members.DESCRIBED_IN}> <{VERSION}> <{BASE}graph/members> .")
               for q in quads)
    assert len(quads) == len(set(quads))  # one member quad per entity
    return {q.split(" ", 1)[0][1:-1].encode() for q in quads}


@pytest.mark.parametrize("subjects", [
    ["<{c}>", "<{c}#info>", "<{c}/t1>", "<{c}/t1#checksum>", "<{c}/t1>", "<{c}/t1/part>",
     "<{c}/t2#a>", "<{c}/t1#b>"],  # under the collection; an entity's lines apart, nested
    ["<{c}/t1>", "<{c}X/t2>"],  # a longer IRI starting with the collection's
    ["<{c}/t1>", "_:b0"],  # a blank node
    ["<http://example.org/other>", "<{c}/t1>"],  # another source's node, first
    ["<{c}/t1>", "<{c}/t1#x>"],  # the last line without its line break (below)
])
def test_member_lines_of_hand_made_lines(tmp_path, subjects):
    store = TrackStore(tmp_path / "store", base=BASE)
    text = "".join(f"{s.format(c=COLLECTION)} {P} \"v\" .\n" for s in subjects).encode()
    if subjects[-1] == "<{c}/t1#x>":
        text = text[:-1]
    lines = members.Lines(store, VERSION, COLLECTION)
    entities, fits = _expected(text, COLLECTION)
    assert _found(lines, text) == entities
    assert lines.fits is fits


def test_member_lines_of_a_generated_document(tmp_path, generated):
    """The chunks of a generated document, small: each gives its entities, and fits."""
    store = TrackStore(tmp_path / "store", base=BASE)
    path = str(write_json(tmp_path / "doc.json", copy.deepcopy(generated[0])))
    with DocumentReader(path) as reader:
        mapped = DocumentStream(reader, BASE, chunk_bytes=3000)
        collection = mapped.prepared.collection_iri
        lines = members.Lines(store, VERSION, collection)
        count = 0
        for chunk in mapped.chunks():
            entities, fits = _expected(chunk, collection)
            assert fits and _found(lines, chunk) == entities and entities
            count += 1
    assert count > 10 and lines.fits
