"""A document's mapping notes, kept compact: a big document has one per entity or more.

A streamed document of a million tracks can have a million notes (the generated corpora have one
per track: a RefSeq accession read under `refseq`), each a `Note` with its own pointer string:
~130 bytes a note. Here a note is three numbers (16 bytes): its pointer's shape with the first
array index taken out (`/tracks/…/assembly_id`, kept once), that index, and its level and
message (kept once each); a `Note` is made again when one is read. (`Note` lives here;
`fairtracks_ld.mapping.prepare` re-exports it.)
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

_INDEX = re.compile(r"/(0|[1-9][0-9]{0,17})(?=/|$)")  # the first array index of a JSON Pointer


@dataclass(slots=True)
class Note:
    """Something the mapping noticed but could map anyway (reported, never silent)."""

    pointer: str
    level: str  # "warning" | "info"
    message: str


class Notes(Sequence[Note]):
    """Notes in the order they were added (`append`, `extend`), read back as `Note`s."""

    def __init__(self, notes: Iterable[Note] = ()) -> None:
        self._shapes: dict[tuple[str, str], int] = {}  # (before, after) the index
        self._shape_list: list[tuple[str, str]] = []
        self._kinds: dict[tuple[str, str], int] = {}  # (level, message) → number
        self._kind_list: list[tuple[str, str]] = []
        self._shape = array("I")
        self._index = array("q")  # -1: the pointer has no index
        self._kind = array("I")
        self.extend(notes)

    def append(self, note: Note) -> None:
        found = _INDEX.search(note.pointer)
        if found is None:
            shape, index = (note.pointer, ""), -1
        else:
            shape = (note.pointer[:found.start(1)], note.pointer[found.end(1):])
            index = int(found.group(1))
        self._shape.append(_number(self._shapes, self._shape_list, shape))
        self._index.append(index)
        self._kind.append(_number(self._kinds, self._kind_list, (note.level, note.message)))

    def extend(self, notes: Iterable[Note]) -> None:
        for note in notes:
            self.append(note)

    def __len__(self) -> int:
        return len(self._kind)

    @overload
    def __getitem__(self, at: int) -> Note: ...

    @overload
    def __getitem__(self, at: slice) -> list[Note]: ...

    def __getitem__(self, at: int | slice) -> Note | list[Note]:
        if isinstance(at, slice):
            return [self._note(i) for i in range(*at.indices(len(self)))]
        if at < 0:
            at += len(self)
        if not 0 <= at < len(self):
            raise IndexError("note index out of range")
        return self._note(at)

    def __iter__(self) -> Iterator[Note]:
        return (self._note(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Notes | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Notes({list(self)!r})"

    def _note(self, at: int) -> Note:
        (before, after), index = self._shape_list[self._shape[at]], self._index[at]
        level, message = self._kind_list[self._kind[at]]
        return Note(before if index < 0 else f"{before}{index}{after}", level, message)


def _number(numbers: dict, values: list, value: object) -> int:
    """`value`'s number in a table of distinct values (added when new)."""
    number = numbers.get(value)
    if number is None:
        number = numbers[value] = len(values)
        values.append(value)
    return number
