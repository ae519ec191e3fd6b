"""A full OWL reasoner (HermiT, owlready2, Java) against the fast closure: same subclass answers."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import BASE, OBO

from fairtracks_ld import reasoning
from fairtracks_ld.cli import main
from fairtracks_ld.ontology.bundle import default_bundle_dir
from fairtracks_ld.ontology.install import add_ontology
from fairtracks_ld.ontology.owl_reasoner import OwlReasonerError, classify_file
from fairtracks_ld.ontology.reasoner_check import check_bundle, compare
from fairtracks_ld.store import TrackStore

FT = "https://w3id.org/fairtracks-ld/vocab#"
X = "http://example.org/defined#"
REGION, SEQUENCE_FEATURE = OBO + "SO_0000001", OBO + "SO_0000110"
MEMORY_MB = 600

# A defined class: C ≡ A ⊓ ∃p.B, and D ⊑ A, D ⊑ ∃p.B. HermiT entails C ⊑ A and D ⊑ C; the fast
# closure, which reads only named rdfs:subClassOf / owl:equivalentClass, sees neither.
DEFINED = f"""@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{X}ontology> a owl:Ontology .
<{X}p> a owl:ObjectProperty .
<{X}A> a owl:Class . <{X}B> a owl:Class .
<{X}C> a owl:Class ; rdfs:label "defined" ; owl:equivalentClass [ a owl:Class ;
    owl:intersectionOf ( <{X}A> [ a owl:Restriction ; owl:onProperty <{X}p> ;
                                  owl:someValuesFrom <{X}B> ] ) ] .
<{X}D> a owl:Class ; rdfs:subClassOf <{X}A> ,
    [ a owl:Restriction ; owl:onProperty <{X}p> ; owl:someValuesFrom <{X}B> ] .
"""


def ancestors(store: TrackStore, iri: str) -> set[str]:
    rows = store.query(f"SELECT ?a WHERE {{ <{iri}> ft:subclass_of ?a }}")
    return {row["a"].value for row in rows}


@pytest.mark.parametrize("module", ["so", "edam"])
def test_hermit_gives_the_fast_closure_answers_on_a_bundled_module(module):
    [result] = check_bundle([module], memory_mb=MEMORY_MB, timeout=120)
    assert result.agree, "\n".join(result.describe())
    assert result.fast_pairs == result.reasoner_pairs > 2 * result.classes > 5000


def test_hermit_draws_what_defined_classes_entail_and_the_comparison_says_so(tmp_path):
    with gzip.open(tmp_path / "defined.ttl.gz", "wt") as out:
        out.write(DEFINED)
    result = compare("defined", [tmp_path / "defined.ttl.gz"], memory_mb=MEMORY_MB)
    assert not result.agree
    assert set(result.only_reasoner) == {(X + "C", X + "A"), (X + "D", X + "C")}
    assert result.only_fast == []
    assert f"<{X}D> ⊑ <{X}C> (defined)" in "\n".join(result.describe())


def test_reason_with_hermit_writes_its_answers_and_plain_reason_returns_to_the_fast_closure(
    tmp_path, capsys
):
    path = tmp_path / "store"
    store = TrackStore(path, base=BASE)
    add_ontology(store, str(default_bundle_dir() / "so.ttl.gz"))
    store.load_ontology(DEFINED.encode(), X + "ontology", None, "test: a defined class")
    reasoning.refresh(store, reasoning.current_state(store))
    fast = reasoning.stored_subclass_of(store)
    assert ancestors(store, X + "D") == {X + "D", X + "A"}
    del store

    assert main(["--store", str(path), "--base-iri", BASE, "reason", "--owl-reasoner", "hermit",
                 "--java-memory", str(MEMORY_MB)]) == 0
    assert "hermit: " in capsys.readouterr().out
    store = TrackStore(path, base=BASE)
    assert reasoning.recorded_reasoner(store) == "hermit"
    assert ancestors(store, X + "D") == {X + "D", X + "A", X + "C"}
    assert ancestors(store, X + "C") == {X + "C", X + "A"}
    assert {REGION, SEQUENCE_FEATURE} <= ancestors(store, REGION)
    hermit = reasoning.stored_subclass_of(store)
    assert {t: a for t, a in hermit.items() if not t.startswith(X)} == {
        t: a for t, a in fast.items() if not t.startswith(X)}  # SO: the same answers
    del store

    assert main(["--store", str(path), "--base-iri", BASE, "reason"]) == 0
    store = TrackStore(path, base=BASE)
    assert reasoning.recorded_reasoner(store) == "fast"
    assert reasoning.stored_subclass_of(store) == fast


def test_without_java_the_error_says_so_and_the_store_is_unchanged(tmp_path):
    path = tmp_path / "store"
    store = TrackStore(path, base=BASE)
    add_ontology(store, str(default_bundle_dir() / "ncit.ttl.gz"))
    before = reasoning.stored_subclass_of(store)
    del store
    no_java = tmp_path / "bin"
    no_java.mkdir()
    env = {**os.environ, "PATH": str(no_java)}
    for command in (["ontologies", "check-reasoner", "--module", "ncit"],
                    ["--store", str(path), "--base-iri", BASE, "reason", "--owl-reasoner",
                     "hermit"]):
        done = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", *command], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "needs Java: no `java` on PATH" in done.stderr
    store = TrackStore(path, base=BASE)
    assert reasoning.stored_subclass_of(store) == before
    assert reasoning.recorded_reasoner(store) == "fast"


def hermit_processes() -> set[int]:
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"HermiT" in (proc / "cmdline").read_bytes():
                found.add(int(proc.name))
        except OSError:
            continue
    return found


def test_a_time_out_stops_the_reasoner_and_its_java_process(tmp_path):
    """EFO, the largest bundled module, keeps HermiT busy for ~8 s on a fast machine: the 3 s
    time-out stops it while Java is seen running (SO, used before, could finish in time)."""
    source = tmp_path / "efo.ttl"
    source.write_bytes(gzip.decompress((default_bundle_dir() / "efo.ttl.gz").read_bytes()))
    nt = tmp_path / "efo.nt"
    ox.serialize(ox.parse(path=source, format=ox.RdfFormat.TURTLE), output=nt,
                 format=ox.RdfFormat.N_TRIPLES)
    earlier = hermit_processes()
    failures: list[Exception] = []

    def classify() -> None:
        try:
            classify_file(nt, timeout=3, memory_mb=MEMORY_MB)
        except Exception as error:  # checked below, in the test's thread
            failures.append(error)

    reasoner = threading.Thread(target=classify)
    reasoner.start()
    seen_running = False
    while reasoner.is_alive():
        seen_running = seen_running or bool(hermit_processes() - earlier)
        time.sleep(0.05)
    assert seen_running, "HermiT's Java process never started"
    assert len(failures) == 1 and isinstance(failures[0], OwlReasonerError)
    assert "did not finish within 3 s and was stopped" in str(failures[0])
    deadline = time.monotonic() + 60  # killed, then reaped: a hang guard
    while hermit_processes() - earlier and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not hermit_processes() - earlier


def test_a_reasoner_failure_is_a_clear_error(tmp_path):
    inconsistent = tmp_path / "inconsistent.nt"
    inconsistent.write_text(
        f"<{X}A> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://www.w3.org/2002/07/owl#Class> .\n"
        f"<{X}A> <http://www.w3.org/2002/07/owl#equivalentClass> "
        "<http://www.w3.org/2002/07/owl#Nothing> .\n"
        f"<{X}a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{X}A> .\n")
    with pytest.raises(OwlReasonerError, match="hermit failed:\nOwlReadyInconsistentOntology"):
        classify_file(inconsistent, memory_mb=MEMORY_MB, timeout=120)
