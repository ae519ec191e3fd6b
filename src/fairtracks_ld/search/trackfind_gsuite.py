"""GSuite laid out exactly as TrackFind writes it, for clients that compare against TrackFind.

TrackFind (elixir-oslo/trackfind) stores each object as PostgreSQL `jsonb`, which orders keys by
length, then bytewise; it reads them back into Java `HashMap`s, which iterate by hash bucket
(String.hashCode spread as `h ^ h >>> 16`, bucket `& (capacity - 1)`, capacity a power of two
at most 75% full), keys of one bucket in insertion order. Its GSuite lists `uri` (the track's
`file_url`, its path percent-encoded: `@@` becomes `%40%40`), `title` (`label_short`), then
every attribute path (`a->b`) of the track, then of the other categories in that order (nested
objects keep jsonb order), values as stored (lists joined by commas, no trimming) but
percent-decoded, rows by uri. Its headers
say `file format` and `track type` `unknown` (no such columns) and name the genome from
`assembly_name`.

Reproduced from TrackFind's integration fixture (int-tests/.../search.sample.gsuite), which a
test compares byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from fairtracks_ld.search.gsuite import REMOTE

SKIPPED_CATEGORIES = ("doc_info",)


def _java_hash(text: str) -> int:
    value = 0
    for char in text.encode("utf-16-be").decode("utf-16-be"):
        value = (31 * value + ord(char)) & 0xFFFFFFFF
    return value


def jsonb_order(keys: Iterable[str]) -> list[str]:
    """Keys as PostgreSQL jsonb stores them: shorter first, then bytewise."""
    return sorted(keys, key=lambda k: (len(k.encode()), k.encode()))


def java_order(keys: Iterable[str]) -> list[str]:
    """Keys in the order a Java HashMap filled in jsonb order iterates them."""
    inserted = jsonb_order(keys)
    capacity = 16
    while len(inserted) > capacity * 3 // 4:
        capacity *= 2

    def bucket(key: str) -> int:
        value = _java_hash(key)
        return (value ^ (value >> 16)) & (capacity - 1)

    return sorted(inserted, key=lambda k: (bucket(k), inserted.index(k)))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(content: Any, prefix: str = "", nested: bool = False) -> list[tuple[str, str]]:
    """(path, value) pairs of an object, in TrackFind's order (an object's own keys in HashMap
    order, nested objects' in jsonb order); a list of scalars is one value."""
    if isinstance(content, Mapping):
        pairs = []
        for key in (jsonb_order if nested else java_order)(content):
            pairs += flatten(content[key], f"{prefix}->{key}" if prefix else key, True)
        return pairs
    if isinstance(content, list):
        if all(not isinstance(item, Mapping | list) for item in content):
            return [(prefix, ",".join(_text(item) for item in content))]
        merged: dict[str, list[str]] = {}
        for item in content:
            for path, value in flatten(item, prefix, nested):
                merged.setdefault(path, []).append(value)
        return [(path, ",".join(values)) for path, values in merged.items()]
    return [(prefix, _text(content))] if content is not None else []


def encode_uri(uri: str) -> str:
    """The URI with its path percent-encoded as TrackFind writes it (existing escapes kept)."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path=quote(parts.path, safe="/%")))


def _cell(value: str | None, column: str) -> str:
    """A value as stored (no trimming), percent-decoded like TrackFind's GSuite service does
    for metadata (`CD20%2B` → `CD20+`; the uri column stays encoded); tabs and line breaks,
    which would break the table, become spaces; a missing value is `.`."""
    if value is None or value == "":
        return "."
    text = value if column == "uri" else unquote(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _summary(values: list[str | None]) -> str:
    if not values or any(v is None for v in values):
        return "unknown"
    return values[0] if len(set(values)) == 1 else "multiple"


def record_row(record: Mapping[str, Any]) -> dict[str, str]:
    """One search record (category → object) as ordered GSuite columns."""
    track = record.get("tracks") or {}
    row = {"uri": encode_uri(_text(track.get("file_url", ""))),
           "title": _text(track.get("label_short", track.get("local_id", "")))}
    for path, value in flatten({k: v for k, v in track.items() if k != "file_url"}):
        row[path] = value
    others = [c for c in java_order(record) if c != "tracks" and c not in SKIPPED_CATEGORIES]
    for category in others:
        for path, value in flatten(record[category], category):
            row[path] = value
    return row


def trackfind_gsuite(records: Iterable[Mapping[str, Any]]) -> str:
    """The GSuite of search records, every attribute a column, as TrackFind writes it."""
    # TrackFind's row order follows database ids given out in hash order; by uri is stable
    # and agrees with its fixture
    rows = sorted((record_row(r) for r in records), key=lambda row: row["uri"])
    columns: dict[str, None] = {"uri": None, "title": None}
    for row in rows:
        columns.update(dict.fromkeys(row))
    locations = ["remote" if urlsplit(r["uri"]).scheme.lower() in REMOTE else "local"
                 for r in rows]
    genomes = [(r.get("assembly_name") or None) for r in rows]
    out = [f"##location: {_summary(locations)}", "##file format: unknown",
           "##track type: unknown", f"##genome: {_summary(genomes)}",
           "###" + "\t".join(columns)]
    out += ["\t".join(_cell(row.get(c), c) for c in columns) for row in rows]
    return "\n".join(out) + "\n"
