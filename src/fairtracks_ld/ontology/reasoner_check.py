"""Does the fast closure give the same subclass answers as a full OWL reasoner?

Issue 3 asks that it does on the bundled ontologies. Each module (or several together, as the
store holds them) is read into an in-memory Oxigraph store; the fast closure is computed from it
exactly as `fairtracks-ld reason` computes it from the store, the reasoner classifies the same
triples, and the two sets of (class, ancestor) pairs are compared, differences labelled.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld.ontology.bundle import default_bundle_dir, open_module
from fairtracks_ld.ontology.manifest import Manifest
from fairtracks_ld.ontology.owl_reasoner import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT,
    classify_graphs,
)
from fairtracks_ld.reasoning import Table, read_edges, subclass_table

RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")

Pair = tuple[str, str]


@dataclass(frozen=True)
class Comparison:
    """Fast closure against a reasoner on one module (or modules loaded together)."""

    name: str
    reasoner: str
    classes: int
    fast_pairs: int
    reasoner_pairs: int
    only_fast: list[Pair]
    only_reasoner: list[Pair]
    unsatisfiable: list[str]
    labels: dict[str, str]
    seconds_fast: float
    seconds_reasoner: float

    @property
    def agree(self) -> bool:
        return not (self.only_fast or self.only_reasoner or self.unsatisfiable)

    def as_json(self) -> dict:
        return {**self.__dict__, "agree": self.agree}

    def describe(self, limit: int = 20) -> list[str]:
        """Lines for the terminal: counts, then the differing pairs with labels."""
        lines = [
            f"{self.name}: {self.classes} classes, fast closure {self.fast_pairs} pairs "
            f"({self.seconds_fast:.2f} s), {self.reasoner} {self.reasoner_pairs} pairs "
            f"({self.seconds_reasoner:.1f} s): {'same' if self.agree else 'DIFFERENT'}"]
        for title, pairs in ((f"only {self.reasoner}", self.only_reasoner),
                             ("only the fast closure", self.only_fast)):
            if pairs:
                lines.append(f"  {len(pairs)} pairs {title}:")
                lines += [f"    {self._named(a)} ⊑ {self._named(b)}" for a, b in pairs[:limit]]
        if self.unsatisfiable:
            lines.append(f"  {len(self.unsatisfiable)} unsatisfiable classes: "
                         + ", ".join(map(self._named, self.unsatisfiable[:limit])))
        return lines

    def _named(self, iri: str) -> str:
        label = self.labels.get(iri)
        return f"<{iri}> ({label})" if label else f"<{iri}>"


def compare(
    name: str, turtle_files: Iterable[Path], reasoner: str = "hermit",
    timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB,
) -> Comparison:
    """Classify the union of gzipped Turtle modules both ways and compare."""
    source = ox.Store()
    for path in turtle_files:
        with open_module(path) as turtle:
            source.load(turtle, format=ox.RdfFormat.TURTLE)
    started = time.perf_counter()
    fast = subclass_table(read_edges(source, [ox.DefaultGraph()]))
    seconds_fast = time.perf_counter() - started
    found = classify_graphs(source, [ox.DefaultGraph()], reasoner, timeout, memory_mb)
    fast_pairs, owl_pairs = pairs(fast), pairs(found.subclass_of)
    only_fast, only_owl = sorted(fast_pairs - owl_pairs), sorted(owl_pairs - fast_pairs)
    named = {iri for pair in only_fast + only_owl for iri in pair} | found.unsatisfiable
    return Comparison(
        name=name, reasoner=reasoner, classes=len(fast.keys() | found.subclass_of.keys()),
        fast_pairs=len(fast_pairs), reasoner_pairs=len(owl_pairs),
        only_fast=only_fast, only_reasoner=only_owl, unsatisfiable=sorted(found.unsatisfiable),
        labels=labels(source, named), seconds_fast=seconds_fast, seconds_reasoner=found.seconds,
    )


def check_bundle(
    keys: Sequence[str] = (), reasoner: str = "hermit", timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB, bundle_dir: Path | None = None,
) -> list[Comparison]:
    """Compare module by module (all of them, or those named by key: "so", "edam", ...)."""
    folder = bundle_dir or default_bundle_dir()
    modules = {m.key: folder / m.file for m in Manifest.load(folder).modules}
    unknown = set(keys) - modules.keys()
    if unknown:
        raise ValueError(f"no bundled module {', '.join(sorted(unknown))} "
                         f"(modules: {', '.join(modules)})")
    return [compare(key, [path], reasoner, timeout, memory_mb)
            for key, path in modules.items() if not keys or key in keys]


def pairs(table: Table) -> set[Pair]:
    return {(term, ancestor) for term, ancestors in table.items() for ancestor in ancestors}


def labels(source: ox.Store, iris: Iterable[str]) -> dict[str, str]:
    found = {}
    for iri in iris:
        for quad in source.quads_for_pattern(ox.NamedNode(iri), RDFS_LABEL, None):
            found[iri] = quad.object.value
            break
    return found
