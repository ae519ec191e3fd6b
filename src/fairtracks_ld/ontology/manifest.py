"""`ontologies/manifest.json`: what each shipped module is, where it came from, what it holds.

The store reads it to know which modules to load into which named graph; the tests use it to check
that the committed files are the ones that were built (sha256) and hold what it says (counts).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
BUNDLE_FORMAT = 1


@dataclass
class SourceRecord:
    """The source file a module was built from."""

    file: str
    format: str
    origin: str
    commit: str | None
    sha256: str | None
    release: str | None


@dataclass
class ModuleEntry:
    """One module file of the bundle."""

    key: str
    file: str
    sha256: str
    size_bytes: int
    ontology_iri: str
    version_iri: str | None
    version: str | None
    title: str | None
    schema_ontology_iri: str | None
    licence: str
    licence_url: str | None
    source: SourceRecord
    counts: dict[str, Any]
    reader_stats: dict[str, int] = field(default_factory=dict)
    pruning: str = ""
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ModuleEntry:
        values = dict(raw)
        values["source"] = SourceRecord(**values["source"])
        return cls(**values)


@dataclass
class Manifest:
    """The whole bundle."""

    build_date: str
    generator: str
    relations: dict[str, str]
    modules: list[ModuleEntry]
    bundle_format: int = BUNDLE_FORMAT
    total_size_bytes: int = 0

    def module(self, key: str) -> ModuleEntry:
        for entry in self.modules:
            if entry.key == key:
                return entry
        raise KeyError(f"no ontology module {key!r} in the bundle")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    def save(self, out_dir: Path) -> Path:
        path = out_dir / MANIFEST_NAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, out_dir: Path) -> Manifest:
        path = out_dir / MANIFEST_NAME
        if not path.is_file():
            raise FileNotFoundError(f"no ontology bundle manifest at {path}")
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("bundle_format") != BUNDLE_FORMAT:
            raise ValueError(f"{path}: unsupported bundle_format {raw.get('bundle_format')!r}")
        raw["modules"] = [ModuleEntry.from_json(m) for m in raw["modules"]]
        return cls(**raw)
