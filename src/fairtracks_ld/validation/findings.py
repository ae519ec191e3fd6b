"""Findings grouped by kind: one line per kind for people, every finding for machines.

A finding is anything a command reports about a place in a JSON document: a loader note, a
validation result. A document of 200k tracks can have 200k findings of one kind (say, one per
track), so people read one line per kind, with its count and the first few JSON Pointers
(`--verbose` lists every one), while `--report FILE.json` keeps them all.

What makes findings "of one kind" is their `kind`: a rule or shape when the producer has one,
else the message with its values blanked out (`template`), so "unknown prefix 'x' in 'x:1'" and
"unknown prefix 'x' in 'x:2'" group together while different messages stay apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

LEVELS = ("violation", "warning", "info")  # most severe first: groups are shown in this order
SHOWN = 3  # pointers shown per group unless verbose
PLURALS = {"violation": "violations", "warning": "warnings", "info": "info notes"}

_QUOTED = re.compile(r"'[^'\\]*(?:\\.[^'\\]*)*'|\"[^\"\\]*(?:\\.[^\"\\]*)*\"")
_IRI = re.compile(r"<?\bhttps?://[^\s,;<>()]*[^\s,;<>().:]>?")
_NUMBER = re.compile(r"(?<![\w/.-])\d+(?:\.\d+)?(?![\w/.-])")


class Noted(Protocol):
    """What loader and augmentation notes have (`fairtracks_ld.mapping.prepare.Note`)."""

    pointer: str
    level: str
    message: str


@dataclass(frozen=True)
class Item:
    """One finding at one place of one document."""

    level: str  # "violation" | "warning" | "info"
    pointer: str  # JSON Pointer ("" is the whole document)
    message: str
    kind: str = ""  # what groups findings; "" means the message's template
    value: Any = None  # the offending value as the document wrote it, when known
    causes: tuple[Item, ...] = ()  # findings this one causes (reported under it)

    @property
    def group_key(self) -> tuple[str, str]:
        return self.level, self.kind or template(self.message)

    def to_json(self) -> dict[str, Any]:
        found = {"level": self.level, "kind": self.kind or template(self.message),
                 "pointer": self.pointer, "message": self.message}
        if self.value is not None:
            found["value"] = self.value
        if self.causes:
            found["also_causes"] = [item.to_json() for item in self.causes]
        return found


@dataclass
class Group:
    """Findings of one level and kind, in the order they were found."""

    level: str
    kind: str
    items: list[Item] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def heading(self) -> str:
        """'500 warnings: {message}' when all say the same, else '500 warnings like: {first}'
        (the first message names real values, which says more than the template)."""
        first = self.items[0].message
        alike = "" if all(item.message == first for item in self.items) else " like"
        return f"{self.count} {PLURALS.get(self.level, self.level + 's')}{alike}: {first}"


def template(message: str) -> str:
    """A message with its values (quoted strings, IRIs, numbers) blanked out as '…'."""
    blanked = _QUOTED.sub("'…'", message)
    blanked = _IRI.sub("…", blanked)
    return _NUMBER.sub("…", blanked)


def from_notes(notes: Iterable[Noted]) -> list[Item]:
    """Loader or augmentation notes as findings."""
    return [Item(note.level, note.pointer, note.message) for note in notes]


def group(items: Iterable[Item]) -> list[Group]:
    """Findings grouped by (level, kind): most severe level first, then in order found."""
    groups: dict[tuple[str, str], Group] = {}
    for item in items:
        key = item.group_key
        found = groups.get(key)
        if found is None:
            found = groups[key] = Group(*key)
        found.items.append(item)
    rank = {level: index for index, level in enumerate(LEVELS)}
    return sorted(groups.values(), key=lambda g: rank.get(g.level, len(LEVELS)))


def render(items: Iterable[Item], verbose: bool = False, shown: int = SHOWN,
           indent: str = "  ") -> list[str]:
    """Text lines: one per group (count, message, first `shown` pointers), or with `verbose`
    one per finding (with its value) under its group's heading."""
    lines = []
    for found in group(items):
        if found.count == 1:
            item = found.items[0]
            lines.append(f"{indent}{found.level}: {_place(item)}: {item.message}{_value(item)}")
            lines.extend(_causes(item, indent + "    ", shown, verbose))
        elif verbose:
            lines.append(f"{indent}{found.heading}")
            for item in found.items:
                lines.append(f"{indent}  {_place(item)}: {item.message}{_value(item)}")
                lines.extend(_causes(item, indent + "      ", shown, verbose))
        else:
            places = ", ".join(_place(item) for item in found.items[:shown])
            more = f" … and {found.count - shown} more" if found.count > shown else ""
            caused = sum(len(item.causes) for item in found.items)
            also = f" (which also cause {caused} more findings)" if caused else ""
            lines.append(f"{indent}{found.heading} — at {places}{more}{also}")
    return lines


def _causes(item: Item, indent: str, shown: int, verbose: bool) -> list[str]:
    """What a finding also causes, under it: the first `shown` (every one with `verbose`)."""
    listed = item.causes if verbose else item.causes[:shown]
    lines = [f"{indent}also causes: {_place(c)}: {c.message}{_value(c)}" for c in listed]
    if len(item.causes) > len(listed):
        lines.append(f"{indent}… and {len(item.causes) - len(listed)} more it causes")
    return lines


def _place(item: Item) -> str:
    return item.pointer or "/"


def _value(item: Item) -> str:
    """The value, unless the message already says it."""
    if item.value is None or (isinstance(item.value, str) and item.value in item.message):
        return ""
    return f" (value: {json.dumps(item.value, ensure_ascii=False)})"
