"""Answers of slow, deterministic look-ups kept on disk between processes, under a content hash.

Each `load` or `validate` process used to read the bundled ontologies (1.1 s of CPU) and the
Bioregistry (0.6 s to import, 0.4 s for its prefix table) before checking a single track, only to
look up the few thousand terms and handful of prefixes a document uses. Those answers depend on
nothing but the bundle's files, the Bioregistry's data and the code that reads them, so they are
kept in a JSON file named by a hash of all of that (`fingerprint`): a changed bundle, registry
or reading code gives another name, and a stale answer is never read. What is not in the file is
looked up as before and added.

The files live in `$FAIRTRACKS_LD_MEMO` (`off`: none are kept), else
`$XDG_CACHE_HOME/fairtracks-ld`, else `~/.cache/fairtracks-ld`. A folder that cannot be read or
written only costs the look-ups: no answer depends on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

MEMO_ENV = "FAIRTRACKS_LD_MEMO"
KEPT = 50_000  # answers a memo keeps per table (a term's ancestors: ~2 KB of JSON)


def folder() -> Path | None:
    """Where memos are kept (None: nowhere)."""
    chosen = os.environ.get(MEMO_ENV)
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fairtracks-ld"


def fingerprint(*parts: str | bytes | Path) -> str:
    """A hash of strings, bytes and files' contents (in order)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.read_bytes() if isinstance(part, Path) else part
        data = data.encode() if isinstance(data, str) else data
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


class Memo:
    """Tables of answers (table → key → a JSON value) read from the file of one fingerprint
    when first used, written back (atomically, merged with what another process wrote
    meanwhile) by `save` when answers were added."""

    def __init__(self, name: str, key: str) -> None:
        root = folder()
        self.path = root / f"{name}-{key[:40]}.json" if root is not None else None
        self._tables: dict[str, dict[str, Any]] | None = None
        self._added: dict[str, dict[str, Any]] = {}

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        if self._tables is None:
            self._tables = self._read()
        return self._tables

    def _read(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        try:
            found = json.loads(self.path.read_bytes())
        except (OSError, ValueError):  # none yet, unreadable or cut short: looked up again
            return {}
        return found if isinstance(found, dict) else {}

    def get(self, table: str, key: str, default: Any = None) -> Any:
        return self.tables.get(table, {}).get(key, default)

    def has(self, table: str, key: str) -> bool:
        return key in self.tables.get(table, {})

    def put(self, table: str, key: str, value: Any) -> None:
        kept = self.tables.setdefault(table, {})
        if len(kept) < KEPT:
            kept[key] = value
            self._added.setdefault(table, {})[key] = value

    def save(self) -> None:
        """Write the answers added since the last save (nothing to do: nothing written)."""
        if self.path is None or not self._added:
            return
        merged = self._read()
        for table, answers in self._added.items():
            into = merged.setdefault(table, {})
            into.update(list(answers.items())[:max(0, KEPT - len(into))])
        self._added = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=self.path.name, dir=self.path.parent)
        except OSError:
            return  # a read-only cache folder: the answers are looked up next time
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(merged, out, separators=(",", ":"))
            os.replace(temporary, self.path)
        except OSError:  # a full disk: likewise
            Path(temporary).unlink(missing_ok=True)
