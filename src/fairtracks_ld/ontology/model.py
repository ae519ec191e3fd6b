"""The common in-memory term model every reader produces and the module writer consumes.

Readers differ in what their source can say; the model keeps only what fairtracks-ld needs for
labels, validation and ancestor-aware queries, with every reference already turned into an IRI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class SynonymScope(Enum):
    """OBO synonym scopes; UNSPECIFIED is for sources that do not record one (closure files)."""

    EXACT = "EXACT"
    RELATED = "RELATED"
    BROAD = "BROAD"
    NARROW = "NARROW"
    UNSPECIFIED = "UNSPECIFIED"


@dataclass(frozen=True)
class Synonym:
    """A synonym with its scope (synonym types and xrefs are not kept)."""

    text: str
    scope: SynonymScope = SynonymScope.UNSPECIFIED

    def sort_key(self) -> tuple[str, str]:
        return (self.scope.value, self.text)


@dataclass
class Term:
    """One ontology class.

    `is_a` and `part_of` are asserted parents; `broader` holds "hierarchical parents" from sources
    that mix is_a and part_of without saying which (see `vocab.HIERARCHICAL_PARENT`).
    """

    iri: str
    label: str | None = None
    definition: str | None = None
    synonyms: list[Synonym] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: list[str] = field(default_factory=list)
    consider: list[str] = field(default_factory=list)
    alt_ids: list[str] = field(default_factory=list)
    is_a: list[str] = field(default_factory=list)
    part_of: list[str] = field(default_factory=list)
    broader: list[str] = field(default_factory=list)
    equivalents: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def has_parents(self) -> bool:
        return bool(self.is_a or self.part_of or self.broader)

    def add(self, attribute: str, value: str) -> None:
        """Append `value` to a list attribute unless it is already there (sources repeat edges)."""
        values: list[str] = getattr(self, attribute)
        if value not in values and value != self.iri:
            values.append(value)

    def add_synonym(self, synonym: Synonym) -> None:
        if synonym.text and synonym not in self.synonyms:
            self.synonyms.append(synonym)


@dataclass
class OntologyData:
    """Everything one reader got out of one source file."""

    key: str
    ontology_iri: str
    version_iri: str | None
    version: str | None
    source_path: Path
    source_format: str
    title: str | None = None
    terms: dict[str, Term] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def term(self, iri: str) -> Term:
        """The term for `iri`, created on first use."""
        found = self.terms.get(iri)
        if found is None:
            found = self.terms[iri] = Term(iri)
        return found

    def count(self, stat: str, amount: int = 1) -> None:
        self.stats[stat] = self.stats.get(stat, 0) + amount


class OntologySourceError(ValueError):
    """A source file cannot be read; names the file and, where known, the line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")
