"""Materialised reasoning: the class closure, ancestor-aware track predicates answered through it
(nothing stored per track), keeping it current."""

from __future__ import annotations

import copy
import random

import pytest
from conftest import (
    B_CELL,
    BASE,
    CEREBELLUM,
    HISTONE_CHIP,
    OBO,
    annotate,
    copy_store,
    term,
    track_iris,
    write_json,
)

from fairtracks_ld import reasoning
from fairtracks_ld.load import load_sources
from fairtracks_ld.mapping import annotations
from fairtracks_ld.mapping.vocabulary import REASONING_PROPERTIES
from fairtracks_ld.ontology.install import add_ontology
from fairtracks_ld.store import TrackStore

FT = "https://w3id.org/fairtracks-ld/vocab#"
T_CELL, LYMPHOCYTE = OBO + "CL_0000084", OBO + "CL_0000542"
BRAIN = OBO + "UBERON_0000955"
CHIP_SEQ = OBO + "OBI_0000716"
PLANNED_PROCESS, EXECUTED_PLANNED_PROCESS = OBO + "OBI_0000011", OBO + "COB_0000035"

# The same question as the track predicates, asked with property paths over the ontologies: every
# annotation of a track (by where it sits), then is_a, part_of, hierarchical parents, equivalence.
HIERARCHY = ("(rdfs:subClassOf|rdfs:subClassOf/owl:someValuesFrom|skos:broader"
             "|owl:equivalentClass|^owl:equivalentClass)*")
SAMPLE = "ft:experiment_ref/ft:sample_ref/"
EXPERIMENT = "ft:experiment_ref/"
PATHS = {
    "cell_type_ancestor": [SAMPLE + "ft:sample_type/ft:cell_type"],
    "abnormal_cell_type_ancestor": [SAMPLE + "ft:sample_type/ft:abnormal_cell_type"],
    "cell_line_ancestor": [SAMPLE + "ft:sample_type/ft:cell_line"],
    "tissue_ancestor": [SAMPLE + "ft:sample_type/ft:organism_part"],
    "sample_type_ancestor": [SAMPLE + f"ft:sample_type/ft:{k}"
                             for k in ("cell_type", "abnormal_cell_type", "cell_line",
                                       "organism_part")],
    "biospecimen_class_ancestor": [SAMPLE + "ft:biospecimen_class"],
    "phenotype_ancestor": [SAMPLE + "ft:phenotype", EXPERIMENT + "ft:target/ft:phenotype"],
    "technique_ancestor": [EXPERIMENT + "ft:technique"],
    "target_ancestor": [EXPERIMENT + f"ft:target/ft:{k}" for k in (
        "sequence_feature", "gene_product_type", "macromolecular_structure")],
    "file_format_ancestor": ["ft:file_format"],
}
PREFIXES = "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"


def tracks(store: TrackStore, predicate: str, ancestor: str) -> set[str]:
    """Tracks linked to `ancestor` by a track predicate: its path through the closure."""
    path = annotations.TRACK_PATHS[FT + predicate]
    rows = store.query(f"SELECT DISTINCT ?t WHERE {{ ?t {path} <{ancestor}> }}")
    return {row["t"].value for row in rows}


@pytest.fixture(scope="module")
def loaded(corpus_template, tmp_path_factory) -> TrackStore:
    """The shipped bundle plus the generated corpus and the chosen document."""
    return copy_store(corpus_template, tmp_path_factory.mktemp("reasoning") / "store")


# ---- the closure -----------------------------------------------------------------------------


def test_transitive_closure_handles_cycles_and_deep_chains():
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("e", "f")]
    closure = reasoning.transitive_closure(["g"], edges)
    assert closure["d"] == {"a", "b", "c", "d"}
    assert closure["a"] == closure["b"] == closure["c"] == {"a", "b", "c"}
    assert closure["g"] == {"g"} and closure["f"] == {"f"}
    chain = [(f"n{i}", f"n{i + 1}") for i in range(3_000)]  # deeper than the recursion limit
    assert len(reasoning.transitive_closure([], chain)["n0"]) == 3_001


def test_the_closure_follows_is_a_part_of_broader_and_equivalence(loaded):
    def ancestors(predicate: str, iri: str) -> set[str]:
        rows = loaded.query(f"SELECT ?a WHERE {{ <{iri}> ft:{predicate} ?a }}")
        return {row["a"].value for row in rows}

    assert {B_CELL, LYMPHOCYTE} <= ancestors("subclass_of", B_CELL)
    assert CHIP_SEQ in ancestors("subclass_of", HISTONE_CHIP)
    assert BRAIN in ancestors("descends_from", CEREBELLUM)  # Uberon: hierarchical parents
    assert BRAIN not in ancestors("subclass_of", CEREBELLUM)  # … which are not is_a
    # SO part_of (BFO:0000050 restrictions): a five_prime_UTR is part of an mRNA
    assert OBO + "SO_0000234" in ancestors("descends_from", OBO + "SO_0000204")
    assert OBO + "SO_0000234" not in ancestors("subclass_of", OBO + "SO_0000204")
    efo = "http://www.ebi.ac.uk/efo/EFO_0002067"  # K562, and its OBO PURL spelling
    assert ancestors("descends_from", OBO + "EFO_0002067") == ancestors("descends_from", efo)


def test_subclass_of_matches_the_property_path_on_so_obi_and_cl(loaded):
    rows = loaded.query("SELECT ?c WHERE { ?c a owl:Class FILTER(isIRI(?c)) }")
    classes = sorted(row["c"].value for row in rows
                     if row["c"].value.startswith((OBO + "SO_", OBO + "OBI_", OBO + "CL_")))
    sample = [*random.Random(5).sample(classes, 60), B_CELL, HISTONE_CHIP]
    for iri in sample:
        closure = {row["a"].value for row in loaded.query(
            f"SELECT ?a WHERE {{ <{iri}> ft:subclass_of ?a }}")}
        path = {row["a"].value for row in loaded.query(
            f"SELECT ?a WHERE {{ <{iri}> (rdfs:subClassOf|owl:equivalentClass"
            f"|^owl:equivalentClass)* ?a FILTER isIRI(?a) }}")}
        assert closure == path, iri


def test_the_closure_is_recorded_against_the_loaded_ontologies(loaded):
    assert reasoning.recorded_digest(loaded) == reasoning.ontology_digest(loaded)
    assert loaded.has_graph(reasoning.closure_graph(loaded))
    assert f"{BASE}graph/closure" in loaded.view_sources()


def test_every_inferred_predicate_is_in_the_vocabulary():
    inferred = {*annotations.ANCESTOR_PREDICATES, "subclass_of", "descends_from", "found_under",
                "link_layout"}
    assert inferred <= set(REASONING_PROPERTIES)


# ---- track predicates --------------------------------------------------------------------------


def test_lymphocyte_finds_tracks_annotated_b_cell(loaded, chosen):
    b_cell_tracks = track_iris(chosen, sample=0)
    assert b_cell_tracks
    assert b_cell_tracks <= tracks(loaded, "cell_type_ancestor", LYMPHOCYTE)
    assert b_cell_tracks <= tracks(loaded, "sample_type_ancestor", LYMPHOCYTE)
    assert b_cell_tracks <= tracks(loaded, "cell_type_ancestor", B_CELL)
    assert not b_cell_tracks & tracks(loaded, "cell_type_ancestor", T_CELL)


def test_brain_finds_tracks_from_the_cerebellum(loaded, chosen):
    cerebellum_tracks = track_iris(chosen, sample=1)
    assert cerebellum_tracks
    assert cerebellum_tracks <= tracks(loaded, "tissue_ancestor", BRAIN)
    assert cerebellum_tracks <= tracks(loaded, "sample_type_ancestor", BRAIN)


def test_chip_seq_assay_finds_histone_modification_chip_seq(loaded, chosen):
    histone_tracks = track_iris(chosen, experiment=0)
    assert histone_tracks
    assert histone_tracks <= tracks(loaded, "technique_ancestor", CHIP_SEQ)


@pytest.fixture(scope="module")
def path_ancestors(loaded) -> dict[str, set[str]]:
    """Every annotation term's ancestors, by a property path over the ontologies."""
    rows = loaded.query(
        f"{PREFIXES}SELECT DISTINCT ?term ?a WHERE {{ {{ SELECT DISTINCT ?term WHERE {{ "
        f"?annotation ft:term_id ?term }} }} ?term {HIERARCHY} ?a FILTER isIRI(?a) }}"
    )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["term"].value, set()).add(row["a"].value)
    return found


@pytest.mark.parametrize("predicate", sorted(PATHS))
def test_track_predicates_answer_exactly_what_the_property_paths_give(loaded, path_ancestors,
                                                                       predicate):
    alternatives = "|".join(f"{path}/ft:term_id" for path in PATHS[predicate])
    rows = loaded.query(f"SELECT DISTINCT ?t ?term WHERE {{ ?t a ft:Track ; ({alternatives}) "
                        "?term }")
    expected = {(row["t"].value, a) for row in rows for a in path_ancestors[row["term"].value]}
    answered = [(row["t"].value, row["a"].value) for row in loaded.query(
        f"SELECT ?t ?a WHERE {{ ?t {annotations.TRACK_PATHS[FT + predicate]} ?a }}")]
    assert set(answered) == expected
    assert len(answered) == len(expected)  # each pair once, as a stored triple would be
    assert expected or predicate == "abnormal_cell_type_ancestor"


def test_no_link_is_stored(loaded):
    """The view is the merge of the versions, ontologies and closure: no companion graph, and no
    ancestor link on a track or on the entity carrying an annotation."""
    graphs = {g.value for g in loaded.ox.named_graphs()}
    assert not any(reasoning.inferred_graph(v.graph) in graphs for v in loaded.versions())
    assert not loaded.query(f"ASK {{ ?s ?p ?o FILTER(STRSTARTS(STR(?p), \"{FT}own_\") "
                            f"|| STRENDS(STR(?p), \"_ancestor\")) }}")


def test_a_new_version_replaces_the_old_links(bundle_template, tmp_path, chosen):
    store = copy_store(bundle_template, tmp_path / "store")
    first = write_json(tmp_path / "v1.json", chosen)
    newer = annotate(chosen, samples={0: {"cell_type": term(T_CELL, "T cell")}})
    newer["doc_info"]["doc_version"] = "v2"
    newer["doc_info"]["doc_date"] = "2030-01-01T00:00:00Z"
    second = write_json(tmp_path / "v2.json", newer)
    moved = track_iris(chosen, sample=0)
    assert load_sources(store, [str(first)]).ok
    assert moved <= tracks(store, "cell_type_ancestor", B_CELL)
    assert load_sources(store, [str(second)]).ok
    assert not moved & tracks(store, "cell_type_ancestor", B_CELL)
    assert moved <= tracks(store, "cell_type_ancestor", T_CELL)
    track = sorted(moved)[0]
    path = annotations.TRACK_PATHS[FT + "cell_type_ancestor"]
    links = [row["a"].value for row in store.query(f"SELECT ?a WHERE {{ <{track}> {path} ?a }}")]
    assert len(links) == len(set(links))  # no leftovers of the old version, no duplicates
    # reloading the current version replaces it in place, through a staging graph
    before = len(store.ox)
    assert load_sources(store, [str(second)]).ok
    assert len(store.ox) == before
    assert not any("/staging/" in g.value for g in store.ox.named_graphs())


TINY = """format-version: 1.2
data-version: {version}
ontology: favourites

[Term]
id: FAV:0000001
name: favourite cell

[Term]
id: CL:0000236
name: B cell
{is_a}
"""


def test_adding_or_reloading_an_ontology_recomputes_the_closure(tmp_path, chosen):
    store = TrackStore(tmp_path / "store", base=BASE)
    assert load_sources(store, [str(write_json(tmp_path / "doc.json", chosen))]).ok
    favourite = OBO + "FAV_0000001"
    b_cell_tracks = track_iris(chosen, sample=0)
    assert not tracks(store, "cell_type_ancestor", favourite)
    source = tmp_path / "favourites.obo"
    source.write_text(TINY.format(version="2024-01-01", is_a="is_a: FAV:0000001"))
    add_ontology(store, str(source))
    assert tracks(store, "cell_type_ancestor", favourite) == b_cell_tracks
    assert bool(store.query(f"ASK {{ <{B_CELL}> ft:subclass_of <{favourite}> }}"))
    source.write_text(TINY.format(version="2024-02-01", is_a=""))
    add_ontology(store, str(source))
    assert not tracks(store, "cell_type_ancestor", favourite)
    assert not bool(store.query(f"ASK {{ <{B_CELL}> ft:subclass_of <{favourite}> }}"))
    assert reasoning.recorded_digest(store) == reasoning.ontology_digest(store)


def test_the_reason_command_writes_only_differences_unless_told_to_rewrite(
    tmp_path, chosen, capsys
):
    from fairtracks_ld.cli import main

    path = tmp_path / "store"
    store = TrackStore(path, base=BASE)
    assert load_sources(store, [str(write_json(tmp_path / "doc.json", chosen))]).ok
    source = tmp_path / "favourites.obo"
    source.write_text(TINY.format(version="2024-01-01", is_a="is_a: FAV:0000001"))
    add_ontology(store, str(source))
    before = len(store.ox)
    del store
    assert main(["--store", str(path), "reason"]) == 0
    assert "0 links removed, 0 added" in capsys.readouterr().out
    assert main(["--store", str(path), "reason", "--full"]) == 0
    assert "rewritten from scratch" in capsys.readouterr().out
    store = TrackStore(path)
    assert len(store.ox) == before
    assert track_iris(chosen, sample=0) <= tracks(store, "cell_type_ancestor", OBO + "FAV_0000001")


def test_a_stale_closure_is_recomputed_before_the_next_write(tmp_path, chosen, generated):
    store = TrackStore(tmp_path / "store", base=BASE)
    source = tmp_path / "favourites.obo"
    source.write_text(TINY.format(version="2024-01-01", is_a="is_a: FAV:0000001"))
    add_ontology(store, str(source), reason=False)  # e.g. an interrupted refresh
    assert reasoning.recorded_digest(store) != reasoning.ontology_digest(store)
    assert load_sources(store, [str(write_json(tmp_path / "doc.json", chosen))]).ok
    assert track_iris(chosen, sample=0) <= tracks(store, "cell_type_ancestor", OBO + "FAV_0000001")


# ---- obsolete terms and ontology versions ----------------------------------------------------


def test_obsolete_terms_are_reported_and_followed(bundle_template, tmp_path, chosen):
    store = copy_store(bundle_template, tmp_path / "store")
    doc = annotate(chosen, techniques={0: term(PLANNED_PROCESS, "planned process")},
                   collection="obsolete")
    report = load_sources(store, [str(write_json(tmp_path / "obsolete.json", doc))])
    notes = report.loaded[0].notes
    assert len(report.loaded) == 1
    warnings = [n for n in notes if "obsolete" in n.message]
    assert [n.pointer for n in warnings] == ["/experiments/0/technique/term_id"]
    assert "OBI:0000011 (obsolete planned process)" in warnings[0].message
    assert "COB:0000035" in warnings[0].message and warnings[0].level == "warning"
    assert reasoning.effective_term(store, PLANNED_PROCESS) == EXECUTED_PLANNED_PROCESS
    assert reasoning.effective_term(store, CHIP_SEQ) == CHIP_SEQ
    assert track_iris(doc, experiment=0) <= tracks(store, "technique_ancestor",
                                                   EXECUTED_PLANNED_PROCESS)


def test_doc_ontology_versions_differences_are_reported(bundle_template, tmp_path, chosen):
    from fairtracks_ld.term_checks import ontology_version_notes

    store = copy_store(bundle_template, tmp_path / "store")
    doc = copy.deepcopy(chosen)
    doc["doc_info"]["doc_ontology_versions"]["http://purl.obolibrary.org/obo/go.owl"] = (
        "http://purl.obolibrary.org/obo/go/releases/2024-01-01/go.owl")
    report = load_sources(store, [str(write_json(tmp_path / "versions.json", doc))])
    (_, version, loader_notes, _), = report.loaded
    notes = {n.pointer.rsplit("/", 1)[-1]: n for n in ontology_version_notes(store,
                                                                             version.graph)}
    assert all(note in loader_notes for note in notes.values())  # the loader reports them
    so = notes["http:~1~1purl.obolibrary.org~1obo~1so.owl"]
    assert so.level == "warning" and "so/2024-11-18/so.owl" in so.message
    go = notes["http:~1~1purl.obolibrary.org~1obo~1go.owl"]
    assert go.level == "warning" and "no http://purl.obolibrary.org/obo/go.owl is loaded" in (
        go.message)
    cl = notes["http:~1~1purl.obolibrary.org~1obo~1cl.owl"]
    assert cl.level == "info"  # the same 2022-12-15 release, as cl-basic
    assert "http:~1~1purl.obolibrary.org~1obo~1obi.owl" not in notes  # identical
