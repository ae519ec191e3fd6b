"""The corpus generator: schema validity, exact sizes, determinism, references, real terms."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from fairtracks_ld.generate import (
    ASSEMBLIES,
    OUTPUTS,
    SPECIES,
    generate_documents,
    load_terms,
    write_corpus,
)
from fairtracks_ld.standard import load_schemas

OBO = "http://purl.obolibrary.org/obo/"
TOP_SCHEMA = "fairtracks.schema.json"
ENTITY_ARRAYS = ("studies", "experiments", "samples", "tracks")

# (variant, tracks, tracks_per_document) corpora checked against the schemas.
CORPORA = [
    ("v1-current", 10, 20_000),
    ("v1-current", 250, 20_000),
    ("v1-current", 300, 70),
    ("master", 10, 20_000),
    ("master", 250, 20_000),
    ("master", 300, 70),
]


@cache
def corpus(variant: str, tracks: int, per_doc: int, seed: int = 5) -> tuple[dict, ...]:
    """Generated documents, built once per argument set (tests only read them)."""
    return tuple(generate_documents(tracks, seed=seed, variant=variant,
                                    tracks_per_document=per_doc))


@cache
def validator(variant: str) -> Draft7Validator:
    """Draft-7 validator over the vendored schemas; relative `$ref`s resolve via their `$id`s."""
    schemas = load_schemas(variant)
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    return Draft7Validator(schemas[TOP_SCHEMA], registry=registry,
                           format_checker=Draft7Validator.FORMAT_CHECKER)


def errors(variant: str, document: dict) -> list[str]:
    return [f"{e.json_path}: {e.message[:160]}" for e in validator(variant).iter_errors(document)]


def all_documents() -> Iterator[tuple[str, dict]]:
    for variant, tracks, per_doc in CORPORA:
        for document in corpus(variant, tracks, per_doc):
            yield variant, document


def term_objects(node: Any) -> Iterator[dict]:
    """Every ontology-term object (a dict with `term_id`) anywhere in `node`."""
    if isinstance(node, dict):
        if "term_id" in node:
            yield node
        for value in node.values():
            yield from term_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from term_objects(value)


def by_id(document: dict, array: str) -> dict[str, dict]:
    return {item["local_id"]: item for item in document[array]}


# -- schema validity -------------------------------------------------------------------------


@pytest.mark.parametrize(("variant", "tracks", "per_doc"), CORPORA)
def test_documents_validate_against_vendored_schema(variant, tracks, per_doc):
    for document in corpus(variant, tracks, per_doc):
        assert errors(variant, document) == []


def test_validator_enforces_the_conditional_rules():
    """Guard against a vacuous pass: broken conditionals must be reported by jsonschema."""
    document = copy.deepcopy(corpus("v1-current", 250, 20_000)[0])
    experiment = next(e for e in document["experiments"]
                      if e["technique"]["term_id"] == OBO + "OBI_0002017")
    experiment["technique"]["term_id"] = OBO + "OBI_0001853"  # DNase needs SO_0000685
    sample = next(s for s in document["samples"]
                  if s["biospecimen_class"]["term_id"] == OBO + "NCIT_C12508")
    del sample["sample_type"]["cell_type"]  # Cell needs cell_type
    found = errors("v1-current", document)
    assert any("SO_0000685" in error for error in found)
    assert any("'cell_type' is a required property" in error for error in found)


def test_master_documents_are_augmented_and_v1_documents_are_not():
    for variant, document in all_documents():
        augmented = document["doc_info"].get("has_augmented_metadata")
        assert augmented is (True if variant == "master" else None)


def test_master_schema_rejects_a_missing_augmented_label():
    document = copy.deepcopy(corpus("master", 10, 20_000)[0])
    del document["tracks"][0]["file_format"]["term_label"]
    assert any("term_label" in error for error in errors("master", document))


# -- sizes and streaming ---------------------------------------------------------------------


@pytest.mark.parametrize("tracks", [1, 10, 69, 70, 71, 300])
def test_track_total_is_exact_and_split_into_documents(tracks):
    documents = list(generate_documents(tracks, seed=1, tracks_per_document=70))
    sizes = [len(document["tracks"]) for document in documents]
    assert sum(sizes) == tracks
    assert len(documents) == -(-tracks // 70)
    assert all(size == 70 for size in sizes[:-1]) and 1 <= sizes[-1] <= 70


def test_generation_is_lazy():
    """A billion-track corpus can be started: documents are produced one at a time."""
    stream = generate_documents(10**9, seed=3, tracks_per_document=25)
    first = next(stream)
    assert len(first["tracks"]) == 25
    assert next(stream)["collection_info"]["local_id"] == "gen-3-1"


@pytest.mark.parametrize(
    "kwargs",
    [{"tracks": 0}, {"tracks": 5, "variant": "v2"}, {"tracks": 5, "tracks_per_document": 0}],
)
def test_bad_arguments_are_rejected(kwargs):
    with pytest.raises(ValueError):
        generate_documents(**kwargs)


# -- determinism -----------------------------------------------------------------------------


def dumped(tracks: int, seed: int, variant: str = "v1-current", per_doc: int = 60) -> list[str]:
    return [json.dumps(d, sort_keys=False)
            for d in generate_documents(tracks, seed, variant, per_doc)]


def test_same_arguments_give_identical_output():
    assert dumped(150, 11) == dumped(150, 11)
    assert dumped(150, 11, "master") == dumped(150, 11, "master")


def test_different_seeds_and_variants_differ():
    assert dumped(150, 11) != dumped(150, 12)
    assert dumped(150, 11) != dumped(150, 11, "master")


def test_doc_date_comes_from_the_seed_not_the_clock():
    dates = {d["doc_info"]["doc_date"] for d in generate_documents(90, 4, tracks_per_document=30)}
    again = {d["doc_info"]["doc_date"] for d in generate_documents(90, 4, tracks_per_document=30)}
    assert dates == again and len(dates) == 3
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", date) for date in dates)


@pytest.mark.parametrize("compress", [False, True])
def test_write_corpus_is_byte_identical_and_named_by_collection(tmp_path, compress):
    first = write_corpus(tmp_path / "a", 130, seed=9, tracks_per_document=50, gzip=compress)
    second = write_corpus(tmp_path / "b", 130, seed=9, tracks_per_document=50, gzip=compress)
    suffix = ".json.gz" if compress else ".json"
    assert [p.name for p in first] == [f"gen-9-{n}{suffix}" for n in range(3)]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    opener = gzip.open if compress else open
    documents = [json.load(opener(path, "rt", encoding="utf-8")) for path in first]
    assert documents == list(generate_documents(130, seed=9, tracks_per_document=50))


# -- structure and references ----------------------------------------------------------------


def test_every_reference_resolves_within_its_document():
    for _, document in all_documents():
        collection = document["collection_info"]
        assert collection["doc_ref"] == document["doc_info"]["local_id"]
        studies, samples = by_id(document, "studies"), by_id(document, "samples")
        experiments = by_id(document, "experiments")
        assert all(s["collection_ref"] == collection["local_id"] for s in studies.values())
        for experiment in experiments.values():
            assert experiment["study_ref"] in studies
            assert experiment["sample_ref"] in samples
        per_experiment = Counter(track["experiment_ref"] for track in document["tracks"])
        assert set(per_experiment) == set(experiments)
        assert all(1 <= n <= 4 for n in per_experiment.values())
        assert {e["sample_ref"] for e in experiments.values()} == set(samples)


def test_local_ids_are_unique_per_type_across_documents():
    documents = corpus("v1-current", 300, 70)
    assert len(documents) == 5
    collection_ids = [d["collection_info"]["local_id"] for d in documents]
    assert collection_ids == [f"gen-5-{n}" for n in range(5)]
    for array in ENTITY_ARRAYS:
        ids = [item["local_id"] for d in documents for item in d[array]]
        assert len(ids) == len(set(ids)), array
        assert all(any(cid in local_id for cid in collection_ids) for local_id in ids)
    curie_style = [item["local_id"] for d in documents for item in d["tracks"]]
    assert all(local_id.startswith("gen:gen-5-") for local_id in curie_style)


def test_species_assembly_and_sample_are_consistent():
    assemblies = {species: {(a, n) for a, n, _ in options}
                  for species, options in ASSEMBLIES.items()}
    species_of = {taxon: species for species, (taxon, _) in SPECIES.items()}
    for _, document in all_documents():
        samples, experiments = by_id(document, "samples"), by_id(document, "experiments")
        for sample in samples.values():
            species = species_of[sample["species_id"]]
            assert sample["species_name"] == SPECIES[species][1]
        for track in document["tracks"]:
            sample = samples[experiments[track["experiment_ref"]]["sample_ref"]]
            pair = (track["assembly_id"], track["assembly_name"])
            assert pair in assemblies[species_of[sample["species_id"]]]


# -- terms -----------------------------------------------------------------------------------


def test_every_term_comes_from_the_table_with_its_exact_label():
    labels = load_terms().labels
    seen = set()
    for variant, document in all_documents():
        for term in term_objects(document):
            iri = term["term_id"]
            assert iri in labels, iri
            if labels[iri] is None:
                assert "term_label" not in term and variant == "v1-current", iri
            else:
                assert term["term_label"] == labels[iri], iri
            seen.add(iri)
    assert len(seen) > 250  # a diverse corpus, not a handful of repeated terms


def test_summaries_repeat_the_labels_they_summarise():
    for _, document in all_documents():
        for sample in document["samples"]:
            sample_type = sample["sample_type"]
            main = next(sample_type[k] for k in ("cell_type", "cell_line", "organism_part")
                        if k in sample_type)
            assert sample_type["summary"].startswith(main["term_label"])
        for experiment in document["experiments"]:
            target = experiment["target"]
            if "sequence_feature" in target:
                assert target["summary"] == target["sequence_feature"]["term_label"]


def test_conditional_rules_hold_in_generated_data():
    """Technique -> target fields and biospecimen_class -> sample_type field, checked directly."""
    fixed = {"OBI_0000748": "SO_0001747", "OBI_0001853": "SO_0000685"}
    product = {"OBI_0001271": "NCIT_C813", "OBI_0001922": "NCIT_C25966",
               "OBI_0002019": "NCIT_C17207"}
    field_for = {"NCIT_C12508": "cell_type", "NCIT_C12913": "abnormal_cell_type",
                 "NCIT_C16403": "cell_line", "NCIT_C103199": "organism_part"}
    techniques = Counter()
    for _, document in all_documents():
        for experiment in document["experiments"]:
            technique = experiment["technique"]["term_id"].removeprefix(OBO)
            target = experiment["target"]
            techniques[technique] += 1
            if technique in fixed:
                assert target["sequence_feature"]["term_id"] == OBO + fixed[technique]
            if technique == "OBI_0002017":
                assert "sequence_feature" in target
            if technique in product:
                assert target["gene_product_type"]["term_id"] == OBO + product[technique]
            if technique == "OBI_0002019":
                assert re.fullmatch(r"hgnc:\d{1,5}", target["gene_id"])
            if technique == "OBI_0002440":
                assert target["macromolecular_structure"]["term_id"] == OBO + "NCIT_C13402"
        for sample in document["samples"]:
            klass = sample["biospecimen_class"]["term_id"].removeprefix(OBO)
            assert field_for[klass] in sample["sample_type"]
    ruled = {"OBI_0002017", "OBI_0001853", "OBI_0000748", "OBI_0002019", "OBI_0001271"}
    assert ruled <= set(techniques)


def test_cell_types_cover_lymphocyte_lineages_for_ancestor_queries():
    terms = load_terms()
    below = terms.descendants
    assert len(below[OBO + "CL_0000542"]) >= 300  # lymphocyte
    assert len(below[OBO + "CL_0000084"]) >= 100  # T cell
    assert len(below[OBO + "CL_0000236"]) >= 90  # B cell: every B cell subtype CL has
    assert len(below[OBO + "UBERON_0000955"]) >= 100  # brain
    used = {sample["sample_type"]["cell_type"]["term_id"]
            for document in generate_documents(8_000, seed=2, tracks_per_document=8_000)
            for sample in document["samples"] if "cell_type" in sample["sample_type"]}
    assert len(used & set(below[OBO + "CL_0000084"])) >= 60
    assert set(terms.pools["cell_type_lymphocyte"]) >= set(below[OBO + "CL_0000236"])


# -- identifiers and labels ------------------------------------------------------------------

PATTERNS = {
    ("studies", "global_id"): r"geo:GSE\d+",
    ("studies", "publication"): r"pubmed:\d+",
    ("experiments", "global_id"): r"geo:GSM\d+",
    ("samples", "global_id"): r"biosample:SAMN\d+",
    ("samples", "species_id"): r"taxonomy:(9606|10090)",
    ("tracks", "global_id"): r"fairtracks:gen-\d+-\d+-FF\d{7}",
    ("tracks", "assembly_id"): r"insdc\.gca:GCF_\d{9}\.\d+",
}
ORCID = re.compile(r"orcid:\d{4}-\d{4}-\d{4}-\d{3}[\dX]")
ENCODE_FILE = re.compile(r"encode:ENC[A-Za-z]{2}[0-9]{3}[A-Za-z]{3}")


def test_identifiers_are_canonical_curies_in_the_schema_namespaces():
    for _, document in all_documents():
        for (array, key), pattern in PATTERNS.items():
            for item in document[array]:
                if key in item:
                    assert re.fullmatch(pattern, item[key]), (array, key, item[key])
        for track in document["tracks"]:
            assert all(ENCODE_FILE.fullmatch(raw) for raw in track.get("raw_file_ids", []))
        contacts = [document["collection_info"]["contact"]]
        contacts += [study["contact"] for study in document["studies"]]
        for contact in contacts:
            assert "e-mail" in contact or "orcid" in contact
            assert "orcid" not in contact or ORCID.fullmatch(contact["orcid"])


def test_tracks_are_internally_consistent():
    outputs = {(o.format_id, o.condensed, o.geometry, o.extension) for o in OUTPUTS.values()}
    for variant, document in all_documents():
        short_limit = 25 if variant == "master" else 17
        for track in document["tracks"]:
            assert track["file_url"].startswith("https://")
            assert track["file_url"].endswith("/" + track["file_name"])
            extension = track["file_name"].split(".", 1)[1]
            key = (track["file_format"]["term_id"], track["type_of_condensed_data"],
                   track["geometric_track_type"], extension)
            assert key in outputs
            assert len(track["label_short"]) <= short_limit
            assert len(track["label_long"]) <= 80
            checksum = track["checksum"]
            digest = hashlib.md5 if checksum["cs_method"] == "MD5" else hashlib.sha256
            expected = digest(f"5/{track['local_id']}".encode()).hexdigest()
            assert checksum["cs_hash"] == expected
