"""Named queries: headers, term resolution, safe binding, ancestor-aware answers, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import B_CELL, BASE, OBO, copy_store, track_iris
from test_reasoning import BRAIN, CHIP_SEQ, EXECUTED_PLANNED_PROCESS, LYMPHOCYTE, TINY, tracks

from fairtracks_ld.queries import (
    QueryError,
    bind,
    list_queries,
    load_query,
    parse_assignments,
    resolve_facet,
    resolve_term,
    run,
)
from fairtracks_ld.store import TrackStore

EFO_K562 = "http://www.ebi.ac.uk/efo/EFO_0002067"


@pytest.fixture(scope="module")
def searchable(corpus_template, tmp_path_factory) -> TrackStore:
    return copy_store(corpus_template, tmp_path_factory.mktemp("queries") / "store")


def found(store: TrackStore, name: str, **values: str) -> set[str]:
    result, _ = run(store, load_query(name), values)
    return {row["track"].value for row in result}


def count(store: TrackStore) -> int:
    return len(store.ox)


# ---- the query files -------------------------------------------------------------------------


def test_every_named_query_parses_and_documents_its_parameters():
    named = {q.name: q for q in list_queries()}
    assert {"tracks-by-cell-type", "tracks-by-tissue", "tracks-by-cell-line",
            "tracks-by-technique", "tracks-by-target", "tracks-by-file-format", "facet-counts",
            "term-lookup", "tracks-per-technique"} <= set(named)
    assert named["tracks-per-technique"].params == ()
    assert [(p.name, p.kind) for p in named["facet-counts"].params] == [
        ("facet", "facet"), ("term", "class")]
    empty = ox.Store()
    for query in named.values():
        assert query.description, query.name
        for param in query.params:
            assert param.description, (query.name, param.name)
            # every parameter is projected, as substitution requires
            assert f"?{param.name}" in query.text.split("WHERE")[0], (query.name, param.name)
        empty.query(query.text)  # valid SPARQL


def test_a_query_is_found_by_name_or_path_and_unknown_names_are_listed(tmp_path):
    assert load_query("tracks-by-cell-type").name == "tracks-by-cell-type"
    own = tmp_path / "mine.rq"
    own.write_text("# Mine.\n# param: term (class) — any class\nSELECT ?term WHERE {}\n")
    assert load_query(str(own)).params[0].kind == "class"
    with pytest.raises(QueryError, match=r"known queries: .*tracks-by-cell-type"):
        load_query("tracks-by-nothing")
    with pytest.raises(QueryError, match="known queries"):
        load_query("../queries/tracks-by-cell-type")


# ---- resolving terms ---------------------------------------------------------------------------


@pytest.mark.parametrize("given, how", [
    ("B cell", "label"), ("b CELL", "label"), ("B-lymphocyte", "exact synonym"),
    ("CL:0000236", "CURIE"), (B_CELL, "IRI"),
])
def test_a_term_is_an_iri_curie_label_or_synonym(searchable, given, how):
    resolved = resolve_term(searchable, given)
    assert (resolved.iri, resolved.how) == (B_CELL, how)


def test_efo_terms_resolve_to_the_www_ebi_ac_uk_form(searchable):
    assert resolve_term(searchable, "EFO:0002067").iri == EFO_K562
    assert resolve_term(searchable, OBO + "EFO_0002067").iri == EFO_K562
    assert resolve_term(searchable, "K562").iri == EFO_K562


def test_unknown_and_ambiguous_terms_are_clear_errors(searchable):
    with pytest.raises(QueryError, match=r"ambiguous term 'cell'.*CL:0000000.*NCIT:C12508"):
        resolve_term(searchable, "cell")
    with pytest.raises(QueryError, match="unknown term 'no such cell'"):
        resolve_term(searchable, "no such cell")
    with pytest.raises(QueryError, match="unknown term 'FOO:1'"):
        resolve_term(searchable, "FOO:1")
    with pytest.raises(QueryError, match="not a valid IRI"):
        resolve_term(searchable, "http://example.org/a b")


def test_an_obsolete_term_means_its_replacement(searchable):
    resolved = resolve_term(searchable, "OBI:0000011")
    assert resolved.iri == EXECUTED_PLANNED_PROCESS
    assert "OBI:0000011 is obsolete" in resolved.notes[0]


def test_facets_by_name_or_predicate():
    tissue = "https://w3id.org/fairtracks-ld/vocab#tissue_ancestor"
    assert resolve_facet("tissue") == resolve_facet("organism_part") == tissue
    assert resolve_facet("ft:tissue_ancestor") == resolve_facet(tissue) == tissue
    with pytest.raises(QueryError, match="unknown facet 'colour'; known facets: cell_type"):
        resolve_facet("colour")


# ---- ancestor-aware answers ------------------------------------------------------------------


def test_lymphocyte_finds_b_cell_tracks_like_the_subclass_path(searchable, chosen):
    answer = found(searchable, "tracks-by-cell-type", term="lymphocyte")
    assert track_iris(chosen, sample=0) <= answer
    path = searchable.query(
        "SELECT DISTINCT ?t WHERE { ?t ft:experiment_ref/ft:sample_ref/ft:sample_type/"
        f"ft:cell_type/ft:term_id/rdfs:subClassOf* <{LYMPHOCYTE}> }}")
    assert answer == {row["t"].value for row in path}


def test_brain_finds_cerebellum_tracks(searchable, chosen):
    answer = found(searchable, "tracks-by-tissue", term="brain")
    assert track_iris(chosen, sample=1) <= answer
    assert answer == tracks(searchable, "tissue_ancestor", BRAIN)


def test_chip_seq_assay_finds_histone_modification_chip_seq(searchable, chosen):
    answer = found(searchable, "tracks-by-technique", term="ChIP-seq assay")
    assert track_iris(chosen, experiment=0) <= answer
    path = searchable.query(
        "SELECT DISTINCT ?t WHERE { ?t ft:experiment_ref/ft:technique/ft:term_id/"
        f"rdfs:subClassOf* <{CHIP_SEQ}> }}")
    assert answer == {row["t"].value for row in path}


@pytest.mark.parametrize("name, given", [
    ("tracks-by-cell-line", "EFO:0000001"), ("tracks-by-sample-type", "material entity"),
    ("tracks-by-target", "SO:0000001"), ("tracks-by-file-format", "Format"),
    ("tracks-by-phenotype", "Normal"), ("tracks-by-cell-type", "CL:0000000"),
])
def test_every_track_query_answers(searchable, name, given):
    result, bound = run(searchable, load_query(name), {"term": given})
    rows = list(result)
    assert rows
    assert {row["term"] for row in rows} == set(bound.substitutions.values())


def test_facet_counts_roll_descendants_up(searchable):
    result, _ = run(searchable, load_query("facet-counts"),
                    {"facet": "cell_type", "term": "leukocyte"})
    counts = {row["class"].value: int(row["tracks"].value) for row in result}
    lymphocytes = len(found(searchable, "tracks-by-cell-type", term="lymphocyte"))
    assert counts[LYMPHOCYTE] == lymphocytes
    assert counts[OBO + "CL_0000738"] >= lymphocytes >= counts[B_CELL] > 0
    result, _ = run(searchable, load_query("facet-counts"),
                    {"facet": "cell_line", "term": "EFO:0001640"})  # B cell derived
    classes = [row["class"].value for row in result]
    assert classes and not any(c.startswith(OBO + "EFO_") for c in classes)  # no PURL twins


def test_term_lookup_by_label_or_synonym(searchable):
    result, _ = run(searchable, load_query("term-lookup"), {"text": "b-LYMPHOCYTE"})
    rows = list(result)
    assert rows[0]["class"].value == B_CELL and rows[0]["match"].value == "exact synonym"


# ---- safety ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    'B cell" } ; DROP ALL ; #',
    "CL:0000236> . ?s ?p ?o . <x",
    "http://purl.obolibrary.org/obo/CL_0000236> } DROP ALL { <x",
])
def test_injection_attempts_in_class_parameters_are_inert(searchable, value):
    before = count(searchable)
    with pytest.raises(QueryError):
        run(searchable, load_query("tracks-by-cell-type"), {"term": value})
    assert count(searchable) == before


@pytest.mark.parametrize("value", ['") } ; DROP ALL ; #', "?text"])
def test_string_parameters_are_literals(searchable, value):
    before = count(searchable)
    query = load_query("term-lookup")
    bound = bind(searchable, query, {"text": value})
    assert bound.substitutions == {ox.Variable("text"): ox.Literal(value)}
    result, _ = run(searchable, query, {"text": value})
    assert list(result) == []
    assert count(searchable) == before


def test_parameters_are_checked(searchable):
    query = load_query("tracks-by-cell-type")
    with pytest.raises(QueryError, match="needs --param term"):
        bind(searchable, query, {})
    with pytest.raises(QueryError, match="has no parameter colour"):
        bind(searchable, query, {"term": "B cell", "colour": "red"})
    with pytest.raises(QueryError, match="unknown facet"):
        bind(searchable, load_query("facet-counts"),
             {"facet": "cell_type_ancestor> ?x . ?s ?p ?o #", "term": "cell"})
    with pytest.raises(QueryError, match="NAME=VALUE"):
        parse_assignments(["term"])
    assert parse_assignments(["term=a=b"]) == {"term": "a=b"}


# ---- the command line ------------------------------------------------------------------------


def cli(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
         *args], capture_output=True, text=True, timeout=300,
    )


def test_search_on_the_command_line(searchable, tmp_path, chosen, capsys):
    from fairtracks_ld.cli import main

    path = tmp_path / "copy"
    searchable.ox.backup(str(path))  # a process of its own needs a store of its own
    result = cli(path, "search", "tracks-by-cell-type", "--param", "term=B cell")
    assert result.returncode == 0, result.stderr
    assert "CL:0000236 (B cell) [label]" in result.stderr
    for track in track_iris(chosen, sample=0):
        assert f"<{track}>" in result.stdout
    assert "term" not in result.stdout.splitlines()[0].split()  # bound parameters not repeated

    def search(*args: str) -> tuple[int, str, str]:
        code = main(["--store", str(path), "--base-iri", BASE, *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = search("search", "--list")
    assert code == 0 and "facet-counts facet=<facet> term=<class>" in out
    code, _, err = search("search", "tracks-by-cell-type", "-p", "term=no such cell")
    assert code == 2 and "unknown term 'no such cell'" in err
    code, out, _ = search("search", "facet-counts", "-p", "facet=tissue", "-p", "term=brain",
                          "--format", "csv")
    assert code == 0 and "UBERON_0000955" in out
    # an ontology added later makes B cell a subclass of a new class: search finds it
    source = tmp_path / "favourites.obo"
    source.write_text(TINY.format(version="2024-01-01", is_a="is_a: FAV:0000001"))
    assert search("ontologies", "add", str(source))[0] == 0
    code, out, err = search("search", "tracks-by-cell-type", "-p", "term=favourite cell")
    assert code == 0, err
    for track in track_iris(chosen, sample=0):
        assert f"<{track}>" in out
