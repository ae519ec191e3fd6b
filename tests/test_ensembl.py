"""The Ensembl track model: one source of truth, the mapping, and loading beside FAIRtracks."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pyoxigraph as ox
import pytest
from conftest import BASE, write_json
from pyld import jsonld
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS
from skolemise import same_skolemised

from fairtracks_ld import ensembl_model
from fairtracks_ld.load import load_sources
from fairtracks_ld.mapping import curies
from fairtracks_ld.mapping.ensembl import prepare_ensembl
from fairtracks_ld.mapping.ensembl_context import CONTEXT_FILE, JSON_KEY, load_context, predicate
from fairtracks_ld.mapping.ensembl_export import release_record, track_record
from fairtracks_ld.mapping.models import detect, prepare_document
from fairtracks_ld.mapping.namespaces import FT, FTX
from fairtracks_ld.mapping.prepare import MappingError
from fairtracks_ld.mapping.to_rdf import quads_fast, quads_reference
from fairtracks_ld.paths import VOCABULARY_FILE, data_dir
from fairtracks_ld.search.index import build_index
from fairtracks_ld.validation.ensembl_shapes import SHAPES_FILE, render, shapes_dir
from fairtracks_ld.validation.vocab import SCHEMA_RULE
from fairtracks_ld.web.members import genomes
from fairtracks_ld.writing import write_version

FT_NS = Namespace(FT)
EXAMPLES = {k: json.loads(p.read_text()) for k, p in ensembl_model.example_documents().items()}
MOUSE_TRACK = (BASE + "collection/ensembl-ensembl-89/track/mus_musculus/GRCm38/GENCODE%20M24")
NCBITAXON_MOUSE = "http://purl.obolibrary.org/obo/NCBITaxon_10090"
RELEASE_89 = BASE + "collection/ensembl-ensembl-89"


# ---- one source of truth ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def vocabulary() -> Graph:
    return Graph().parse(data_dir("context") / VOCABULARY_FILE, format="turtle")


def test_every_model_key_has_a_context_term_a_vocabulary_entry_and_a_shape(vocabulary):
    context = load_context()
    shapes = Graph().parse(shapes_dir() / SHAPES_FILE, format="turtle")
    rules = {str(o) for o in shapes.objects(None, URIRef(SCHEMA_RULE))}
    keys = ensembl_model.properties()
    assert {p.key for p in keys} >= {"short_name", "genome_strain", "release_version",
                                     "location_logic_names", "location_uri"}
    for prop in keys:
        assert prop.key in context, prop.key
        assert any(r.startswith(f"{ensembl_model.SCHEMA_FILE}{prop.rule}/") for r in rules), \
            f"no shape states a rule of {prop.key}"
        if prop.json_type == "object":
            assert context[prop.key] == "@nest"
            continue
        node = URIRef(predicate(prop))
        assert (node, RDF.type, None) in vocabulary and (node, RDFS.label, None) in vocabulary
        assert (node, FT_NS[JSON_KEY], Literal(prop.key)) in vocabulary, prop.key


def test_every_ensembl_context_term_is_defined_by_the_vocabulary(vocabulary):
    for term, definition in load_context().items():
        if term.startswith("@") or term in ("ft", "ftx", "xsd") or definition == "@nest":
            continue
        iri = definition["@id"] if isinstance(definition, dict) else definition
        assert (FT_NS[iri.removeprefix("ft:")], RDFS.label, None) in vocabulary, term
    assert (FT_NS.EnsemblTrack, RDFS.subClassOf, FT_NS.Track) in vocabulary
    assert (FT_NS.EnsemblRelease, RDFS.subClassOf, FT_NS.Collection) in vocabulary


def test_shapes_are_generated_from_the_schema():
    assert (shapes_dir() / SHAPES_FILE).read_text(encoding="utf-8") == render()


def test_a_third_party_applying_the_context_gets_the_same_statements():
    """The published context (with @nest) maps a raw document like the mapping does, minus the
    links the mapping adds from its offline tables."""
    context = json.loads((data_dir("context") / CONTEXT_FILE).read_text())
    raw = {**context, "@id": MOUSE_TRACK, "@type": ["Track", "EnsemblTrack"],
           **EXAMPLES["mysql"]}
    third = list(ox.parse(jsonld.to_rdf(raw, {"format": "application/n-quads"}),
                          format=ox.RdfFormat.N_QUADS))
    derived = {FT + t for t in ("species_id_iri", "species_name", "assembly_id",
                                "assembly_id_iri", "collection_ref")}
    ours = [ox.Quad(q.subject, q.predicate, q.object)  # in the default graph, as `third`
            for q in quads_fast(prepare_ensembl(EXAMPLES["mysql"], BASE))
            if q.predicate.value not in derived and q.subject.value != RELEASE_89]
    assert same_skolemised(ours, third)


# ---- the mapping ------------------------------------------------------------------------------


def test_tracks_link_to_the_taxon_and_assembly_iris_fairtracks_documents_use():
    prepared = prepare_ensembl(EXAMPLES["mysql"], BASE)
    assert prepared.document_iri == MOUSE_TRACK and prepared.variant == "ensembl"
    assert prepared.collection_iri == BASE + "collection/ensembl-ensembl-89"
    node = prepared.node
    # what a FAIRtracks sample's species_id "taxonomy:10090" resolves to
    assert node["genome_species_iri"] == curies.resolve("taxonomy:10090").iri == NCBITAXON_MOUSE
    # what FAIRtracks' mm10 (GRCm38) assembly_id resolves to (see generate.ASSEMBLIES)
    assert node["assembly_id_iri"] == curies.resolve("insdc.gca:GCF_000001635.20").iri
    assert same_skolemised(quads_fast(prepared), quads_reference(prepared))
    uri = prepare_ensembl(EXAMPLES["uri"], BASE).node
    assert uri["location_uri_iri"] == EXAMPLES["uri"]["location"]["location_uri"]


def test_iris_are_stable_and_encoded_and_divisions_normalised():
    document = copy.deepcopy(EXAMPLES["mysql"])
    document["short_name"] = "a/b c"
    document["release"] = {"release_division": "Funghi", "release_version": 89.0}
    prepared = prepare_ensembl(document, BASE)
    assert prepared.document_iri == (BASE + "collection/ensembl-fungi-89/track/mus_musculus/"
                                     "GRCm38/a%2Fb%20c")
    assert prepare_ensembl(document, BASE).graph == prepared.graph  # content-addressed version
    document["description"] = "changed"
    assert prepare_ensembl(document, BASE).graph != prepared.graph


def test_each_track_links_to_its_release_a_collection_named_for_people():
    triples = {(q.subject.value, q.predicate.value, q.object.value)
               for q in quads_fast(prepare_ensembl(EXAMPLES["mysql"], BASE))}
    assert (MOUSE_TRACK, FT + "collection_ref", RELEASE_89) in triples
    assert {(p, o) for s, p, o in triples if s == RELEASE_89} == {
        (str(RDF.type), FT + "Collection"), (str(RDF.type), FT + "EnsemblRelease"),
        (FT + "short_name", "Ensembl release 89"), (FT + "release_division", "ensembl"),
        (FT + "release_version", "89"), (FT + "source_repo_url", "https://www.ensembl.org/"),
        (FT + "source_repo_url_iri", "https://www.ensembl.org/")}
    # the draft's spelling and any case name one release; an unknown division has no site
    document = copy.deepcopy(EXAMPLES["mysql"])
    document["release"] = {"release_division": "Funghi", "release_version": 56}
    release = prepare_ensembl(document, BASE).node["collection_ref"]
    assert release["@id"] == BASE + "collection/ensembl-fungi-56"
    assert release["collection_short_name"] == "Ensembl Fungi release 56"
    assert release["collection_source_repo_url"] == "https://fungi.ensembl.org/"
    document["release"]["release_division"] = "Parasites"
    release = prepare_ensembl(document, BASE).node["collection_ref"]
    assert release["collection_short_name"] == "Ensembl parasites release 56"
    assert "collection_source_repo_url" not in release


def test_records_read_tracks_in_the_vocabularys_terms():
    """What the TrackFind-compatible API answers for an Ensembl track and its release."""
    prepared = prepare_ensembl(EXAMPLES["mysql"], BASE)
    quads = quads_fast(prepared)
    track = track_record(quads, MOUSE_TRACK)
    assert track["local_id"] == "mus_musculus/GRCm38/GENCODE M24"
    assert track["label_short"] == "GENCODE M24" and track["assembly_name"] == "GRCm38"
    assert track["species_name"] == "Mus musculus" and track["release_version"] == 89
    assert track["location_logic_names"] == ["ensembl", "havana"]
    assert track["genome_strain"] is False and track["collection_ref"] == "ensembl-ensembl-89"
    assert not any(key.endswith("_iri") for key in track)
    assert release_record(quads, RELEASE_89) == {
        "local_id": "ensembl-ensembl-89", "short_name": "Ensembl release 89",
        "release_division": "ensembl", "release_version": 89,
        "source_repo_url": "https://www.ensembl.org/"}
    odd = {**EXAMPLES["mysql"], "extra": {"a": [1]}}
    assert track_record(quads_fast(prepare_ensembl(odd, BASE)), MOUSE_TRACK)["extra"] == \
        {"a": [1]}


def test_strains_unknown_species_and_mismatched_assemblies_are_noted():
    document = copy.deepcopy(EXAMPLES["mysql"])
    document["genome"].update(genome_species="mus_musculus_129s1svimj", genome_strain=True)
    prepared = prepare_ensembl(document, BASE)
    assert prepared.node["genome_species_iri"] == NCBITAXON_MOUSE
    assert any(n.level == "info" and "strain" in n.message for n in prepared.notes)
    document["genome"]["genome_species"] = "danio_rerio"  # GRCm38 is not a zebrafish assembly
    prepared = prepare_ensembl(document, BASE)
    assert "assembly_id_iri" not in prepared.node
    assert any(n.pointer == "/genome/genome_assembly" for n in prepared.notes)
    document["genome"]["genome_species"] = "nonexistia_fictiva"
    prepared = prepare_ensembl(document, BASE)
    assert "genome_species_iri" not in prepared.node
    assert next(n.pointer for n in prepared.notes if n.level == "warning") == \
        "/genome/genome_species"


def test_hostile_keys_stay_inert():
    document = copy.deepcopy(EXAMPLES["mysql"])
    document.update({"@context": {"@vocab": "http://evil.example/"}, "@id": "http://victim/",
                     "@graph": [{"@id": "http://victim/", "ft:label_short": "pwned"}],
                     "@included": [{"@id": "http://victim/x"}], "@type": "@json"})
    document["genome"].update({"@id": "http://evil.example/g", "@reverse": {"a": "b"}})
    quads = quads_fast(prepare_ensembl(document, BASE))
    cells = {f"{MOUSE_TRACK}#location_logic_names-list-{n}" for n in (1, 2)}  # its list
    assert {q.subject.value for q in quads} == {MOUSE_TRACK, RELEASE_89, *cells}
    assert all(not q.predicate.value.startswith("http://evil") for q in quads)
    extensions = {q.predicate.value[len(FTX):] for q in quads if q.predicate.value.startswith(FTX)}
    assert extensions == {"%40context", "%40id", "%40graph", "%40included", "%40type",
                          "genome%2F%40id", "genome%2F%40reverse"}


def test_the_model_is_recognised_by_shape_or_named(examples):
    assert detect(EXAMPLES["uri"]) == "ensembl"
    assert detect(examples["master"]) == "fairtracks"
    for document, message in (({"name": "x"}, "matches neither model"),
                              ([EXAMPLES["uri"]], "not a JSON object"),
                              ({**EXAMPLES["uri"], "tracks": []}, "keys of both models")):
        with pytest.raises(MappingError, match=message):
            detect(document)
    with pytest.raises(MappingError, match="unknown @schema"):
        prepare_document(EXAMPLES["uri"], BASE, model="fairtracks")
    with pytest.raises(MappingError, match="/short_name"):
        prepare_document({k: v for k, v in EXAMPLES["uri"].items() if k != "short_name"}, BASE)


# ---- loading beside FAIRtracks ----------------------------------------------------------------


def _snapshot(store) -> set[str]:
    return {str(q) for q in store.ox}


@pytest.fixture
def mixed(tmp_path, generated, store):
    """A store holding both Ensembl examples and a generated FAIRtracks document with mice."""
    mouse = next(d for d in generated if any(s["species_id"] == "taxonomy:10090"
                                             for s in d["samples"]))
    paths = [str(p) for p in ensembl_model.example_documents().values()]
    paths.append(str(write_json(tmp_path / "fairtracks.json", mouse)))
    report = load_sources(store, paths)
    assert report.ok, [str(e) for e in report.failed]
    assert [v.variant for _, v, *_ in report.loaded][:2] == ["ensembl", "ensembl"]
    return store


def test_one_query_finds_mouse_grcm38_tracks_of_both_models(mixed):
    rows = list(mixed.query(f"""
        SELECT DISTINCT ?track ?label ?ensembl WHERE {{
          ?track a ft:Track ; ft:label_short ?label ;
                 ft:assembly_id_iri <{curies.resolve("insdc.gca:GCF_000001635.20").iri}> ;
                 (ft:experiment_ref/ft:sample_ref)?/ft:species_id_iri <{NCBITAXON_MOUSE}> .
          BIND(EXISTS {{ ?track a ft:EnsemblTrack }} AS ?ensembl)
        }}"""))
    kinds = {row["ensembl"].value for row in rows}
    assert kinds == {"true", "false"}
    assert {row["track"].value for row in rows if row["ensembl"].value == "true"} == {MOUSE_TRACK}


def test_a_new_version_replaces_the_old_in_the_current_view(mixed, tmp_path):
    changed = copy.deepcopy(EXAMPLES["mysql"])
    changed["description"] = "version two"
    report = load_sources(mixed, [str(write_json(tmp_path / "v2.json", changed))])
    assert report.ok and report.loaded[0][1].current
    descriptions = [row[0].value for row in mixed.query(
        f"SELECT ?d WHERE {{ <{MOUSE_TRACK}> ft:description ?d }}")]
    assert descriptions == ["version two"]
    assert len([v for v in mixed.versions() if v.document == MOUSE_TRACK]) == 2


@pytest.mark.parametrize("document", [
    {"name": "neither model"},
    [{"short_name": "an array of tracks"}],
    {k: v for k, v in EXAMPLES["mysql"].items() if k != "release"},       # no IRI can be minted
    {**EXAMPLES["mysql"], "location": {"location_type": "mysql"}},       # breaks the shapes
], ids=["neither", "array", "no-release", "invalid"])
def test_bad_documents_are_refused_and_the_store_is_unchanged(mixed, tmp_path, document):
    before = _snapshot(mixed)
    report = load_sources(mixed, [str(write_json(tmp_path / "bad.json", document))])
    assert not report.ok and not report.loaded
    assert _snapshot(mixed) == before


def test_cli_load_says_which_model_it_read(tmp_path, examples):
    store = tmp_path / "store"
    neither = write_json(tmp_path / "neither.json", {"name": "x"})

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                               "--base-iri", BASE, "load", *args], capture_output=True,
                              text=True, timeout=120)

    result = run(*(str(p) for p in ensembl_model.example_documents().values()), str(neither))
    assert result.returncode == 1
    assert result.stdout.count("[Ensembl track, current]") == 2, result.stdout
    assert "neither.json: /: matches neither model" in result.stderr
    forced = run("--model", "fairtracks", str(ensembl_model.example_documents()["uri"]))
    assert forced.returncode == 1 and "unknown @schema" in forced.stderr


def test_reloading_a_store_of_the_earlier_mapping_adds_the_release(store, tmp_path):
    """A track stored before releases were collections (no link, no release node) gets both
    when its unchanged file is loaded again: the same version graph, rewritten in place, and the
    search index's collection facet then holds it."""
    path = write_json(tmp_path / "track.json", EXAMPLES["mysql"])
    prepared = prepare_ensembl(EXAMPLES["mysql"], BASE)
    earlier = {k: v for k, v in prepared.node.items() if k != "collection_ref"}
    write_version(store, dataclasses.replace(prepared, node=earlier, _ntriples=None), str(path))
    ask = (f"ASK {{ <{MOUSE_TRACK}> ft:collection_ref <{RELEASE_89}> . "
           f"<{RELEASE_89}> a ft:Collection }}")
    assert not store.query(ask)
    assert RELEASE_89 not in build_index(store).fields["collection"].ids
    report = load_sources(store, [str(path)])
    assert report.ok and report.loaded[0][1].graph == prepared.graph
    assert store.query(ask)
    assert [v.graph for v in store.versions()] == [prepared.graph]
    index = build_index(store)
    assert index.label(RELEASE_89) == "Ensembl release 89"
    assert index.fields["collection"].counts(None)[index.fields["collection"].ids[RELEASE_89]] == 1
    assert genomes(index, np.arange(len(index.tracks))) == [("Mus musculus GRCm38", 1)]
