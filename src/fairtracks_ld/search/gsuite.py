"""GSuite (v0.9) text for a list of track rows: `##` headers summarising the tracks, the `###`
column line (uri, title, file_format, track_type, genome, then metadata columns), track lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

TRACK_TYPES = {"points", "valued points", "segments", "valued segments", "genome partition",
               "step function", "function", "linked points", "linked valued points",
               "linked segments", "linked valued segments", "linked genome partition",
               "linked step function", "linked function", "linked base pairs"}
REMOTE = {"http", "https", "ftp", "rsync"}
Row = Mapping[str, str | None]


def _cell(value: str | None) -> str:
    """A tab-free, line-free cell; missing values are `.`."""
    text = " ".join((value or "").split())
    return text or "."


def _summary(values: list[str | None]) -> str:
    """unknown if any is unknown, multiple if they differ, else the one value."""
    if not values or any(v is None for v in values):
        return "unknown"
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else "multiple"


def _location(uri: str) -> str | None:
    scheme = urlsplit(uri).scheme.lower()
    return "remote" if scheme in REMOTE else "local" if scheme == "file" else None


def gsuite(rows: Iterable[Row], metadata: Mapping[str, str]) -> str:
    """The GSuite of `rows` (keys: uri, title, file_format, track_type, genome and the keys of
    `metadata`, which maps row keys to column names)."""
    rows = list(rows)
    track_types = [(r.get("track_type") or "").lower() or None for r in rows]
    track_types = [t if t in TRACK_TYPES else None for t in track_types]
    headers = {
        "location": _summary([_location(r["uri"] or "") for r in rows]),
        "file format": "unknown" if not rows else "primary",
        "track type": _summary(track_types),
        "genome": _summary([r.get("genome") for r in rows]),
    }
    out = [f"##{name}: {value}" for name, value in headers.items()]
    out.append("###" + "\t".join(["uri", "title", "file_format", "track_type", "genome",
                                  *metadata.values()]))
    titles: set[str] = set()
    for row, track_type in zip(rows, track_types, strict=True):
        title = _cell(row.get("title"))
        unique, n = title, 1
        while unique in titles:  # titles must be unique within a file
            n += 1
            unique = f"{title} ({n})"
        titles.add(unique)
        cells = [_cell(row["uri"]), unique, _cell(row.get("file_format")),
                 track_type or ".", _cell(row.get("genome")),
                 *(_cell(row.get(key)) for key in metadata)]
        out.append("\t".join(cells))
    return "\n".join(out) + "\n"
