"""The ontology facts a validation reads, kept per ontology source (one per snapshot): the
parent links prepared once give the same facts as index lookups, a term's facts are read once
per source, and a new snapshot of the ontologies is seen by the validation service at once."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from servers import ANSWER_SECONDS, cli, free_port, serve

from fairtracks_ld.standard import example_documents
from fairtracks_ld.validation.context import (
    OntologySource,
    bundled_ontologies,
    ontology_facts,
    prepare,
    shape_names,
)
from fairtracks_ld.validation.shapes import default_shapes

OBO = "http://purl.obolibrary.org/obo/"
EMBRYO = OBO + "UBERON_0000922"  # a term of the v1-current example
MINI = "http://example.org/test/mini-uberon.owl"
MINI_UBERON = f"""\
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix obo: <{OBO}> .
<{MINI}> a owl:Ontology .
obo:UBERON_0000468 a owl:Class ; rdfs:label "multicellular organism" .
obo:UBERON_0000922 a owl:Class ; rdfs:label "embryo" ; rdfs:subClassOf obo:UBERON_0000468 .
"""
DEPRECATED = MINI_UBERON + """\
obo:UBERON_0000922 owl:deprecated true ; obo:IAO_0100001 obo:UBERON_0000468 .
"""


def lines(found: list[str]) -> list[str]:
    return sorted("".join(found).splitlines())


def fresh(source: OntologySource) -> OntologySource:
    """The same graphs as a new source: nothing read yet."""
    return OntologySource(source.store, source.graphs, source.partial, source.closure)


def test_prepared_parent_links_give_the_facts_index_lookups_give():
    bundle = bundled_ontologies()
    named, ancestors = shape_names(default_shapes())
    prepared = fresh(bundle)
    prepare(prepared)
    classes = sorted(q.subject.value for q in bundle.store.quads_for_pattern(
        None, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        ox.NamedNode("http://www.w3.org/2002/07/owl#Class"))
        if isinstance(q.subject, ox.NamedNode))[::25]  # ~2,000 terms of every module
    for named_descent in (False, True):
        looked_up = ontology_facts(fresh(bundle), set(classes), named, ancestors, named_descent)
        assert lines(ontology_facts(prepared, set(classes), named, ancestors, named_descent)) \
            == lines(looked_up)
    everything = lines(ontology_facts(prepared, set(classes), named, ancestors))
    only_named = lines(ontology_facts(prepared, set(classes), named, ancestors, True))
    assert set(only_named) < set(everything)
    triples = [line.split()[:3] for line in only_named]
    towards = ancestors | {o.strip("<>") for s, p, o in triples  # and their replacements
                           if p == f"<{OBO}IAO_0100001>" and s.strip("<>") in ancestors}
    descent = [o.strip("<>") for _, p, o in triples if p.endswith("descends_from>")]
    assert descent and set(descent) <= towards


def test_a_source_reads_a_term_once_and_a_new_source_reads_it_again():
    store = ox.Store()
    graph = ox.NamedNode(MINI)
    store.load(MINI_UBERON.encode(), format=ox.RdfFormat.TURTLE, to_graph=graph)
    source = OntologySource(store, {MINI: "http://purl.obolibrary.org/obo/uberon.owl"},
                            frozenset(), None)
    prepare(source)
    before = lines(ontology_facts(source, {EMBRYO}, set(), set()))
    assert not any("deprecated" in line for line in before)
    store.load(DEPRECATED.encode(), format=ox.RdfFormat.TURTLE, to_graph=graph)
    # the source keeps what it read (a snapshot does not change under it) ...
    assert lines(ontology_facts(source, {EMBRYO}, set(), set())) == before
    # ... and the next snapshot's source reads afresh
    after = lines(ontology_facts(fresh(source), {EMBRYO}, set(), set()))
    assert any("deprecated" in line for line in after)
    assert any(f"<{OBO}IAO_0100001> <{OBO}UBERON_0000468>" in line for line in after)


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[tuple[str, Path, str]]:
    """A server whose snapshot has one small ontology (the store's, not the bundle)."""
    folder = tmp_path_factory.mktemp("facts")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    store = folder / "store"
    (folder / "mini-uberon.ttl").write_text(MINI_UBERON, encoding="utf-8")
    cli(store, base, "ontologies", "add", str(folder / "mini-uberon.ttl"))
    cli(store, base, "load", "--allow-invalid", str(example_documents()["master"]))
    with serve(store, port, workers=1) as served:
        yield served + "validate", store, base


def obsolete(answer: dict) -> list[dict]:
    return [w for w in answer["warnings"] if w.get("value") == EMBRYO
            or EMBRYO in w.get("description", "")]


def test_a_new_ontology_snapshot_is_seen_by_the_next_validation(service, example):
    url, store, base = service
    first = requests.post(url, json=copy.deepcopy(example), timeout=ANSWER_SECONDS).json()
    assert not any("obsolete" in w["description"].lower() for w in obsolete(first))
    folder = store.parent
    (folder / "mini-uberon.ttl").write_text(DEPRECATED, encoding="utf-8")
    cli(store, base, "ontologies", "add", str(folder / "mini-uberon.ttl"))  # a new snapshot
    second = requests.post(url, json=copy.deepcopy(example), timeout=ANSWER_SECONDS).json()
    found = [w for w in obsolete(second) if "obsolete" in w["description"].lower()
             or "deprecated" in w["description"].lower()]
    assert found, second["warnings"]
