"""Ontologies in the store: one named graph each, atomic replace, broken sources change nothing."""

from __future__ import annotations

import io

import pyoxigraph as ox
import pytest
from conftest import BASE

from fairtracks_ld.ontology import OntologySourceError
from fairtracks_ld.ontology.install import OntologyInstallError, add_ontology, load_bundle
from fairtracks_ld.store import TrackStore

TINY = """format-version: 1.2
data-version: {version}
ontology: tiny

[Term]
id: TINY:0000001
name: root thing

[Term]
id: TINY:0000002
name: {label}
is_a: TINY:0000001 ! root thing
"""
TINY_IRI = "http://purl.obolibrary.org/obo/tiny.owl"


def snapshot(store: TrackStore) -> bytes:
    out = io.BytesIO()
    store.ox.dump(out, format=ox.RdfFormat.N_QUADS)
    return b"\n".join(sorted(out.getvalue().splitlines()))


def labels(store: TrackStore, iri: str) -> list[str]:
    rows = store.query(f"SELECT ?l WHERE {{ <{iri}> rdfs:label ?l }}")
    return sorted(row["l"].value for row in rows)


def test_the_bundle_loads_one_graph_per_ontology(tmp_path):
    store = TrackStore(tmp_path / "s", base=BASE)
    loaded = load_bundle(store, reason=False)  # the closure is tested in test_reasoning
    assert {info.graph for info in store.ontologies()} == set(loaded)
    assert len(loaded) == 7
    assert "B cell" in labels(store, "http://purl.obolibrary.org/obo/CL_0000236")
    efo = next(i for i in store.ontologies() if i.graph == "http://www.ebi.ac.uk/efo/efo.owl")
    assert efo.version_iri.endswith("v3.90.0/efo.owl")


def test_add_replaces_an_ontology_atomically(tmp_path):
    store = TrackStore(tmp_path / "s", base=BASE)
    source = tmp_path / "tiny.obo"
    source.write_text(TINY.format(version="2020-01-01", label="first label"))
    assert add_ontology(store, str(source)) == TINY_IRI
    source.write_text(TINY.format(version="2021-01-01", label="second label"))
    add_ontology(store, str(source))
    assert labels(store, "http://purl.obolibrary.org/obo/TINY_0000002") == ["second label"]
    (info,) = store.ontologies()
    assert info.version_iri.endswith("2021-01-01/tiny.owl")
    assert not any("/staging/" in g.value for g in store.ox.named_graphs())


@pytest.mark.parametrize(
    "content",
    ["format-version: 1.2\n[Term]\nid: TINY:1\nis_a: \n",
     "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><unclosed>",
     "@prefix : <http://x/> . :a :b",
     ""],
)
def test_a_broken_ontology_changes_nothing(tmp_path, content):
    store = TrackStore(tmp_path / "s", base=BASE)
    good = tmp_path / "tiny.obo"
    good.write_text(TINY.format(version="2020-01-01", label="kept"))
    add_ontology(store, str(good))
    before = snapshot(store)
    suffix = ".owl" if content.startswith("<") else ".ttl" if content.startswith("@") else ".obo"
    broken = tmp_path / f"broken{suffix}"
    broken.write_text(content)
    with pytest.raises((OntologySourceError, OntologyInstallError, SyntaxError, ValueError)) as e:
        add_ontology(store, str(broken))
    assert str(broken) in str(e.value)
    assert snapshot(store) == before


def test_a_missing_file_or_unreachable_url_is_a_clear_error(tmp_path):
    store = TrackStore(tmp_path / "s", base=BASE)
    with pytest.raises(OntologyInstallError, match="no such file"):
        add_ontology(store, str(tmp_path / "nope.obo"))
    with pytest.raises(OntologyInstallError, match="cannot download"):
        add_ontology(store, "http://127.0.0.1:9/nothing-listens-here.owl")
