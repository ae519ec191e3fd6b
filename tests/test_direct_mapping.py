"""The direct mapping (N-Triples written from the prepared tree by the published context) gives
exactly the graph pyld's JSON-LD toRdf gives for the same JSON-LD and context, and the graph the
store held before (Oxigraph's JSON-LD parser), each skolemised by the rule docs/mapping.md states
(tests/skolemise.py: list cells as hash IRIs of their owner), on every kind of document the
project reads."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pyoxigraph as ox
import pytest
from conftest import BASE, write_json
from pyld import jsonld
from skolemise import same_skolemised

from fairtracks_ld import ensembl_model
from fairtracks_ld.generate import generate_documents
from fairtracks_ld.mapping import context as ft_context
from fairtracks_ld.mapping import ensembl_context
from fairtracks_ld.mapping.annotations import ANNOTATIONS
from fairtracks_ld.mapping.emit import CompiledContext, Writer
from fairtracks_ld.mapping.ensembl import prepare_ensembl
from fairtracks_ld.mapping.models import prepare_document
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.mapping.prepare import MappingError, Prepared, prepare
from fairtracks_ld.mapping.to_rdf import quads_fast, quads_reference
from fairtracks_ld.standard import example_documents

DATA = Path(__file__).parent / "data"


def oxigraph_jsonld(prepared: Prepared) -> list[ox.Quad]:
    """What the store was given before: Oxigraph's JSON-LD parser on the prepared JSON-LD."""
    return list(ox.parse(prepared.jsonld_bytes(), format=ox.RdfFormat.JSON_LD))


def assert_direct_is_jsonld(prepared: Prepared) -> None:
    direct = quads_fast(prepared)
    assert direct, prepared.graph
    assert same_skolemised(direct, quads_reference(prepared)), prepared.graph
    assert same_skolemised(direct, oxigraph_jsonld(prepared)), prepared.graph


def every_annotation_kind(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The generated corpus, with the annotation kinds the generator never writes planted."""
    documents = copy.deepcopy(documents)
    first = documents[0]
    sample = next(s for s in first["samples"] if "cell_type" in s.get("sample_type", {}))
    sample["sample_type"]["abnormal_cell_type"] = copy.deepcopy(sample["sample_type"]["cell_type"])
    experiment = next(e for e in first["experiments"] if isinstance(e.get("target"), dict))
    experiment["target"]["phenotype"] = {"term_id": "http://purl.obolibrary.org/obo/HP_0000118",
                                         "term_label": "Phenotypic abnormality"}
    return documents


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    documents = list(generate_documents(tracks=150, seed=11, tracks_per_document=50))
    documents += list(generate_documents(tracks=60, seed=12, variant="master",
                                         tracks_per_document=60))
    return every_annotation_kind(documents)


def test_the_corpus_has_every_annotation_kind(corpus):
    """Each annotation kind's term is reached from an entity of its owner's type somewhere in
    the corpus (the routes the track predicates follow)."""
    mapped = ox.Store()
    for document in corpus:
        mapped.load(prepare(document, BASE).ntriples(), format=ox.RdfFormat.N_TRIPLES)
    for kind, (owner, path) in ANNOTATIONS.items():
        assert mapped.query(f"ASK {{ ?node a ft:{owner.title()} ; {path}/ft:term_id ?term "
                            "FILTER isIRI(?term) }", prefixes={"ft": FT}), kind


def test_generated_corpus(corpus):
    for document in corpus:
        assert_direct_is_jsonld(prepare(document, BASE))


@pytest.mark.parametrize("variant", sorted(example_documents()))
def test_bundled_examples(variant):
    document = json.loads(example_documents()[variant].read_text(encoding="utf-8"))
    assert_direct_is_jsonld(prepare(document, BASE))


@pytest.mark.parametrize("path", ["fairtracks_2020/fairtracks.example.2020-01-09.json",
                                  "fairtracks_augment/fairtracks.minimal.example.json"])
def test_real_documents_from_the_standards_history(path):
    document = json.loads((DATA / path).read_text(encoding="utf-8"))
    assert_direct_is_jsonld(prepare_document(document, BASE))


@pytest.mark.parametrize("name", sorted(ensembl_model.example_documents()))
def test_ensembl_tracks(name):
    document = json.loads(ensembl_model.example_documents()[name].read_text(encoding="utf-8"))
    assert_direct_is_jsonld(prepare_ensembl(document, BASE))
    odd = copy.deepcopy(document)  # values of the wrong type and keys beyond the model
    odd["genome"]["extra"] = {"nested": [1, 2.5, None]}
    odd["release"]["release_version"] = 89.0
    odd["@context"] = {"short_name": "@id"}
    assert_direct_is_jsonld(prepare_ensembl(odd, BASE))


def test_values_of_every_json_type_and_text_that_needs_escaping(examples):
    document = copy.deepcopy(examples["master"])
    track = document["tracks"][0]
    track.update({
        "an int": 7, "a big int": 10**22, "an integral float": 3.0, "a float": 0.1,
        "a small float": 1.5e-9, "a huge float": 1e300, "negative": -2.5, "yes": True,
        "no": False, "nothing": None, "an object": {"b": [1, 2.0, {"z": None}], "a": "é"},
        "an array": ["x", 1, None], "empty": [], "@id": "http://evil.example/x",
        "@context": {"@vocab": "http://evil.example/"}, "weird key/~%": "v",
        "label_long": 'quotes " and \\ backslashes, \n newlines, \r returns, \t tabs, ✓, 𝄞',
    })
    track["raw_file_ids"] = []
    document["doc_info"]["doc_url"] = "ft:not-a-web-address"  # a compact IRI look-alike
    document["collection_info"]["description_url"] = "xsd:string"
    document["doc_info"]["doc_ontology_versions"] = {"http://example.org/o.owl": "ftx:v1",
                                                     "not an iri": "1.0"}
    assert_direct_is_jsonld(prepare(document, BASE))


def test_invalid_unicode_is_a_mapping_error(examples):
    document = copy.deepcopy(examples["master"])
    document["tracks"][0]["label_long"] = "lone \ud800 surrogate"
    with pytest.raises(MappingError, match="not valid Unicode"):
        prepare(document, BASE)


@pytest.mark.parametrize("published", [ft_context.load_context, ensembl_context.load_context])
def test_every_term_of_the_published_contexts_is_written_as_jsonld_reads_it(published):
    """Every term, with values of every kind it can meet, against pyld: the direct mapping reads
    the context, so a changed context cannot drift from what the store gets."""
    context = published()
    node: dict[str, Any] = {"@id": "http://example.org/s", "@type": [], }
    for index, (name, definition) in enumerate(sorted(context.items())):
        if name.startswith("@") or definition == "@nest":
            continue
        if isinstance(definition, str) and definition.endswith("#"):
            continue  # a prefix
        if isinstance(definition, dict) and definition.get("@type") == "@id":
            node[name] = [f"http://example.org/o{index}", "ft:compact", "xsd:string"]
        elif isinstance(definition, dict) and definition.get("@container") == "@list":
            node[name] = ["a", "b \"c\""]
        else:
            node[name] = [f"text {index}", True, 42, 2.5]
        if isinstance(definition, str) or "@type" not in definition:
            node["@type"].append(name)  # classes are terms too
    writer = Writer(CompiledContext(context))
    writer.node(node)
    ours = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in ox.parse(
        writer.text().encode(), format=ox.RdfFormat.N_TRIPLES)]
    theirs = list(ox.parse(jsonld.to_rdf({"@context": context, **node},
                                         {"format": "application/n-quads"}),
                           format=ox.RdfFormat.N_QUADS))
    assert len(ours) > 3 * len(context) // 2
    assert same_skolemised(ours, theirs)


def test_a_shape_outside_the_mapping_is_refused():
    writer = Writer(CompiledContext(ft_context.load_context()))
    with pytest.raises(ValueError):
        writer.node({"@id": "http://example.org/s", "label_long": {"@value": "x",
                                                                   "@language": "en"}})
    with pytest.raises(ValueError):
        writer.node({"@id": "http://example.org/s", "contact": {"name": "no @id"}})
    # list cells are named by owner, predicate and position: two lists would share them
    writer.node({"@id": "http://example.org/s", "raw_file_ids": ["a"]})
    with pytest.raises(ValueError, match="two lists"):
        writer.node({"@id": "http://example.org/s", "raw_file_ids": ["b"]})
    clashing = CompiledContext({"a": {"@id": "http://example.org/x#items", "@container": "@list"},
                                "b": {"@id": "http://example.org/y/items", "@container": "@list"}})
    with pytest.raises(ValueError, match="same IRIs"):
        Writer(clashing).node({"@id": "http://example.org/s", "a": ["1"], "b": ["2"]})


def test_load_reports_every_key_an_unnameable_ensembl_track_lacks(tmp_path):
    """Issue 16: missing track_type, genome and release are three findings for `load` too (as
    for jsonschema on the Ensembl schema and for `validate`), the IRI refusal under the genome's;
    nothing is stored."""
    document = json.loads(ensembl_model.example_documents()["mysql"].read_text(encoding="utf-8"))
    for key in ("track_type", "genome", "release"):
        del document[key]
    schema = json.loads((ensembl_model.model_dir() / "ensembl_track.schema.json").read_text())
    expected = sorted(f"/{e.message.split(chr(39))[1]}"
                      for e in jsonschema.Draft202012Validator(schema).iter_errors(document))
    assert expected == ["/genome", "/release", "/track_type"]
    path = write_json(tmp_path / "unnamed.json", document)
    store, report = tmp_path / "store", tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                             "--base-iri", BASE, "load", str(path), "--report", str(report)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    [refused] = json.loads(report.read_text())["sources"]
    assert refused["status"] == "refused"
    assert sorted(f["pointer"] for f in refused["findings"]) == expected
    [genome] = [f for f in refused["findings"] if f["pointer"] == "/genome"]
    assert "mint the track's IRI" in genome["also_causes"][0]["message"]
    assert "3 violation(s)" in result.stdout + result.stderr
    assert "--allow-invalid" not in result.stdout + result.stderr  # it could not be stored
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def validator():
    from fairtracks_ld.validation import Validator

    return Validator()


def test_the_service_path_reports_what_the_whole_document_path_reports(validator, corpus,
                                                                       examples):
    """`Validator.streamed` (mapped entity by entity while it loads, what the service runs)
    answers exactly as `Validator.document` (the document mapped whole)."""
    broken = copy.deepcopy(corpus[0])
    broken["tracks"][0]["file_format"]["term_id"] = "not an IRI"
    del broken["tracks"][1]["label_long"]
    arrays_first = {k: broken[k] for k in ("tracks", "samples", "experiments", "studies")}
    arrays_first.update({k: v for k, v in broken.items() if k not in arrays_first})
    unversioned = copy.deepcopy(examples["master"])
    del unversioned["doc_info"]["doc_version"]
    duplicate = copy.deepcopy(examples["v1-current"])
    duplicate["tracks"].append(copy.deepcopy(duplicate["tracks"][0]))
    not_objects = copy.deepcopy(examples["v1-current"])
    not_objects["tracks"].append("not an object")
    ensembl = json.loads(ensembl_model.example_documents()["uri"].read_text(encoding="utf-8"))
    for document in (broken, arrays_first, unversioned, duplicate, not_objects, ensembl,
                     ["not", "a", "document"]):
        streamed = validator.streamed(copy.deepcopy(document), "d.json").to_json()
        whole = validator.document(copy.deepcopy(document), "d.json").to_json()
        assert streamed == whole
    assert not validator.streamed(broken, "d.json").valid
