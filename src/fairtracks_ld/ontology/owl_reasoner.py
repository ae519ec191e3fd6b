"""A full OWL reasoner (HermiT or Pellet, through owlready2) as an alternative to the fast closure.

The fast closure (`reasoning.subclass_table`) only follows asserted rdfs:subClassOf and
owl:equivalentClass between named classes; a DL reasoner also draws the subsumptions that defined
classes, property axioms and restrictions entail. Running one checks that the fast closure gives
the same answers, and `fairtracks-ld reason --owl-reasoner` can publish its answers instead.

The reasoner runs in a child Python process of its own session: owlready2 starts Java without a
time limit, so a time-out kills the whole process group (Python and Java) and the caller's
process never holds an owlready2 World. The child prints the named classes and the inferred
direct subsumptions as JSON; the reflexive-transitive closure is taken here, as the fast closure
defines it (owl:Thing and owl:Nothing left out: every class is under the one, and a class
equivalent to the other is unsatisfiable, reported as such).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld.reasoning import Table, transitive_closure

REASONERS = ("hermit", "pellet")
DEFAULT_TIMEOUT = 600.0  # seconds
DEFAULT_MEMORY_MB = 1500  # Java heap (-Xmx): the whole bundle classifies in well under 1 GB
THING, NOTHING = "http://www.w3.org/2002/07/owl#Thing", "http://www.w3.org/2002/07/owl#Nothing"


class OwlReasonerError(RuntimeError):
    """Java is missing, or the reasoner failed or ran out of time."""


@dataclass(frozen=True)
class Classification:
    """A reasoner's named-class subsumptions, closed reflexively and transitively."""

    reasoner: str
    subclass_of: Table
    unsatisfiable: frozenset[str]
    seconds: float

    @property
    def pairs(self) -> int:
        return sum(map(len, self.subclass_of.values()))


def find_java() -> str:
    """The `java` on PATH, or a clear error saying how to get one."""
    java = shutil.which("java")
    if java is None:
        raise OwlReasonerError(
            "a full OWL reasoner needs Java: no `java` on PATH (install a JRE, e.g. Debian's "
            "default-jre-headless); the fast closure (the default) needs none")
    return java


def classify_file(
    path: Path, reasoner: str = "hermit", timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> Classification:
    """Classify an ontology file owlready2 reads (RDF/XML, OWL/XML or N-Triples)."""
    if reasoner not in REASONERS:
        raise OwlReasonerError(f"unknown reasoner {reasoner!r} (choose from {REASONERS})")
    command = [sys.executable, "-m", __name__, reasoner, str(path), str(memory_mb), find_java()]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # Java is in the child's process group
        child.communicate()
        raise OwlReasonerError(
            f"{reasoner} did not finish within {timeout:g} s and was stopped") from None
    if child.returncode != 0:
        raise OwlReasonerError(f"{reasoner} failed:\n{_message(err)}")
    found = json.loads(out)
    edges = [tuple(edge) for edge in found["edges"]]
    return Classification(
        reasoner=reasoner,
        subclass_of=transitive_closure(found["classes"], edges),
        unsatisfiable=frozenset(found["unsatisfiable"]),
        seconds=time.perf_counter() - started,
    )


def classify_graphs(
    source: ox.Store, graphs: Iterable[ox.NamedNode | ox.DefaultGraph], reasoner: str = "hermit",
    timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB,
) -> Classification:
    """Classify the union of some graphs of an Oxigraph store (written out as N-Triples)."""
    find_java()  # fail before writing anything
    with tempfile.TemporaryDirectory(prefix="fairtracks-ld-owl-") as folder:
        path = Path(folder) / "ontology.nt"
        with path.open("wb") as out:
            for graph in graphs:
                source.dump(out, format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
        return classify_file(path, reasoner, timeout, memory_mb)


def _message(stderr: bytes) -> str:
    """The end of the child's error output without Java stack frames (the cause stays)."""
    lines = [line for line in stderr.decode(errors="replace").splitlines()
             if line.strip() and not line.lstrip().startswith(("at ", "..."))]
    return "\n".join(lines[-8:])


# ---- the child process -----------------------------------------------------------------------


def _child(reasoner: str, path: str, memory_mb: str, java: str) -> dict[str, list]:
    """Load `path` into a fresh World, run the reasoner, return classes and subsumptions."""
    import owlready2
    import owlready2.reasoning

    owlready2.JAVA_EXE = java
    owlready2.reasoning.JAVA_MEMORY = int(memory_mb)
    world = owlready2.World()
    world.get_ontology(Path(path).absolute().as_uri()).load()
    run = owlready2.sync_reasoner_pellet if reasoner == "pellet" else owlready2.sync_reasoner
    run(world, debug=0)

    def named(query: str) -> list[list[str]]:
        rows = world.sparql(query)
        return [[term.iri for term in row] for row in rows
                if all(hasattr(term, "iri") for term in row)]

    built_in = {THING, NOTHING}
    classes = [c for [c] in named("SELECT ?c { ?c a owl:Class }") if c not in built_in]
    edges = named("SELECT ?a ?b { ?a rdfs:subClassOf ?b }")
    equivalent = named("SELECT ?a ?b { ?a owl:equivalentClass ?b }")
    unsatisfiable = {a for a, b in equivalent if b == NOTHING} | {
        b for a, b in equivalent if a == NOTHING}
    pairs = [*edges, *equivalent, *([b, a] for a, b in equivalent)]
    return {
        "classes": classes,
        "edges": [[a, b] for a, b in pairs if a not in built_in and b not in built_in],
        "unsatisfiable": sorted(unsatisfiable),
    }


if __name__ == "__main__":
    from owlready2 import OwlReadyError

    try:
        json.dump(_child(*sys.argv[1:5]), sys.stdout)
    except OwlReadyError as error:  # Java's failure or an inconsistent ontology: no traceback
        sys.exit(f"{type(error).__name__}: {error}")
