"""The offline ontology bundle: shipped modules, manifest, readers and writer.

Uses only committed files (ontologies/, standard/) and inline snippets; the dev-time sources in
shared/ontologies are not needed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from fairtracks_ld.ontology import (
    BundleError,
    Manifest,
    OntologySourceError,
    Synonym,
    SynonymScope,
    build_bundle,
    load_bundle_modules,
    open_module,
    read_source,
    verify_bundle,
)
from fairtracks_ld.ontology.bundle import sha256_of
from fairtracks_ld.ontology.obo import parse_obo
from fairtracks_ld.paths import data_dir

BUNDLE = data_dir("ontologies")
OBO = "http://purl.obolibrary.org/obo/"
EFO = "http://www.ebi.ac.uk/efo/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PREFIXES = (
    f"PREFIX obo: <{OBO}> PREFIX rdfs: <{RDFS}> PREFIX owl: <{OWL}> PREFIX skos: <{SKOS}> "
    "PREFIX edam: <http://edamontology.org/> PREFIX efo: <http://www.ebi.ac.uk/efo/> "
)
EXPECTED_MODULES = {"cl", "edam", "efo", "ncit", "obi", "so", "uberon"}


# ---- the shipped bundle ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest.load(BUNDLE)


@pytest.fixture(scope="module")
def store() -> ox.Store:
    """All shipped modules, each in the named graph of its ontology IRI, as the store loads them."""
    loaded = ox.Store()
    for ontology_iri, _version_iri, path in load_bundle_modules(BUNDLE):
        with open_module(path) as handle:
            loaded.bulk_load(
                handle, format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(ontology_iri)
            )
    return loaded


def ask(store: ox.Store, pattern: str, graph: str = "?g") -> bool:
    """Does `pattern` match inside one module graph (any, unless `graph` names one)?"""
    return bool(store.query(f"{PREFIXES} ASK {{ GRAPH {graph} {{ {pattern} }} }}"))


def labels(store: ox.Store, iri: str) -> set[str]:
    rows = store.query(f"{PREFIXES} SELECT ?l WHERE {{ GRAPH ?g {{ <{iri}> rdfs:label ?l }} }}")
    return {row["l"].value for row in rows}


def test_bundle_has_every_module_and_stays_small(manifest: Manifest) -> None:
    assert {m.key for m in manifest.modules} == EXPECTED_MODULES
    total = sum((BUNDLE / m.file).stat().st_size for m in manifest.modules)
    assert total == manifest.total_size_bytes
    assert total < 20 * 1024 * 1024
    for module in manifest.modules:
        assert module.licence and module.licence != "unknown"
        assert module.source.origin and module.pruning
        assert module.ontology_iri.startswith("http")


def test_manifest_matches_files(manifest: Manifest) -> None:
    assert verify_bundle(BUNDLE) == []
    for module in manifest.modules:
        path = BUNDLE / module.file
        assert sha256_of(path) == module.sha256
        assert path.stat().st_size == module.size_bytes


def test_manifest_counts_match_module_contents(manifest: Manifest) -> None:
    for module in manifest.modules:
        classes: set[str] = set()
        obsolete: set[str] = set()
        with_parents: set[str] = set()
        triples = 0
        header: dict[str, str] = {}
        with open_module(BUNDLE / module.file) as handle:
            for triple in ox.parse(handle, format=ox.RdfFormat.TURTLE):
                triples += 1
                subject, predicate, obj = triple.subject, triple.predicate.value, triple.object
                if not isinstance(subject, ox.NamedNode):
                    continue
                if predicate.endswith("#type") and obj.value == OWL + "Class":
                    classes.add(subject.value)
                elif predicate.endswith("#type") and obj.value == OWL + "Ontology":
                    header["iri"] = subject.value
                elif predicate == OWL + "versionIRI":
                    header["version"] = obj.value
                elif predicate == OWL + "deprecated" and obj.value == "true":
                    obsolete.add(subject.value)
                elif predicate in (RDFS + "subClassOf", SKOS + "broader"):
                    with_parents.add(subject.value)
        counts = module.counts
        assert (len(classes), len(obsolete), len(with_parents & classes), triples) == (
            counts["classes"],
            counts["obsolete"],
            counts["with_parents"],
            counts["triples"],
        ), module.key
        assert header == {"iri": module.ontology_iri, "version": module.version_iri}


def test_load_bundle_modules_lists_ontology_and_version_iris(manifest: Manifest) -> None:
    modules = load_bundle_modules(BUNDLE)
    assert [m.path.name for m in modules] == [m.file for m in manifest.modules]
    by_key = {m.path.name.split(".")[0]: m for m in modules}
    assert by_key["obi"].ontology_iri == OBO + "obi.owl"
    assert by_key["obi"].version_iri == OBO + "obi/2026-05-08/obi.owl"
    assert by_key["efo"].ontology_iri == EFO + "efo.owl"
    assert by_key["efo"].version_iri == EFO + "releases/v3.90.0/efo.owl"
    ontology_iri, version_iri, path = by_key["edam"]
    assert (ontology_iri, version_iri, path.name) == (
        "http://edamontology.org",
        "http://edamontology.org/1.25",
        "edam.ttl.gz",
    )


def test_b_cell_is_a_lymphocyte(store: ox.Store) -> None:
    assert ask(store, "obo:CL_0000236 rdfs:subClassOf+ obo:CL_0000542")
    assert labels(store, OBO + "CL_0000236") == {"B cell"}


def test_cerebellum_reaches_brain_through_hierarchical_parents(store: ox.Store) -> None:
    uberon = f"<{OBO}uberon.owl>"
    assert ask(store, "obo:UBERON_0002037 skos:broader+ obo:UBERON_0000955", uberon)
    # the closure does not say is_a or part_of, so the Uberon module never claims is_a
    assert not ask(store, "?x rdfs:subClassOf ?y", uberon)
    # OBI declares some Uberon classes itself, with OBI's (real) is_a edges
    assert ask(store, "obo:UBERON_0002037 rdfs:subClassOf ?x", f"<{OBO}obi.owl>")


def test_histone_chip_seq_is_a_chip_seq_assay(store: ox.Store) -> None:
    assert ask(store, "obo:OBI_0002017 rdfs:subClassOf+ obo:OBI_0000716")
    assert labels(store, OBO + "OBI_0000716") == {"ChIP-seq assay"}


def test_planned_process_is_obsolete_and_replaced(store: ox.Store) -> None:
    assert ask(store, "obo:OBI_0000011 owl:deprecated true ; obo:IAO_0100001 obo:COB_0000035")
    assert labels(store, OBO + "COB_0000035") == {"completely executed planned process"}


def test_native_cell_still_live_in_cl_basic(store: ox.Store) -> None:
    assert ask(store, "obo:CL_0000003 rdfs:label ?l")
    assert not ask(store, "obo:CL_0000003 owl:deprecated true")


def test_edam_format_label(store: ox.Store) -> None:
    assert labels(store, "http://edamontology.org/format_3613") == {"ENCODE narrow peak format"}
    assert ask(store, "edam:format_3613 rdfs:subClassOf+ edam:format_1915")


def test_efo_cell_line_under_ebi_iri_with_purl_equivalent(store: ox.Store) -> None:
    assert labels(store, EFO + "EFO_0003042") == {"H1-hESC"}
    assert labels(store, OBO + "EFO_0003042") == set()  # the PURL form is only an equivalent
    assert ask(store, "efo:EFO_0003042 owl:equivalentClass obo:EFO_0003042")
    assert ask(store, "efo:EFO_0003042 skos:broader+ efo:EFO_0000001")
    # known gap: EFO's cell lines do not reach CL:0000010 in this data
    assert not ask(store, "efo:EFO_0003042 (skos:broader|rdfs:subClassOf)+ obo:CL_0000010")


def test_ncit_subset_labels(store: ox.Store) -> None:
    expected = {
        "C12508": "Cell",
        "C12913": "Abnormal Cell",
        "C16403": "Cell Line",
        "C103199": "Organism Part",
        "C14165": "Normal",
        "C7057": "Disease, Disorder or Finding",
        "C26548": "Gene Product",
    }
    for code, label in expected.items():
        assert labels(store, f"{OBO}NCIT_{code}") == {label}
    assert ask(store, "obo:NCIT_C25966 skos:broader obo:NCIT_C26548")


def test_ncit_module_matches_the_schemas() -> None:
    from_schemas = read_source(data_dir("standard"))
    shipped = read_source(BUNDLE / "ncit.ttl.gz")
    assert {i: t.label for i, t in from_schemas.terms.items()} == {
        i: t.label for i, t in shipped.terms.items()
    }


# ---- readers -----------------------------------------------------------------------------------

OBO_SNIPPET = r"""format-version: 1.2
data-version: 2024-01-01
ontology: tst
idspace: EFO http://www.ebi.ac.uk/efo/EFO_

[Term]
id: TST:0000001
name: root\, with comma\! ! a comment
def: "A \"quoted\" definition\nover two lines." [PMID:1, http\://example.org/x]
synonym: "exact one" EXACT []
synonym: "related one" RELATED OMO:0003000 [src:1] {source="x"}
synonym: "no scope" []

[Term]
id: TST:0000002
name: child {kept braces}
is_a: TST:0000001 {is_inferred="true"} ! root
relationship: part_of TST:0000003 ! whole
relationship: has_part TST:0000004
relationship: located_in TST:0000008
intersection_of: TST:0000009
intersection_of: part_of TST:0000005
intersection_of: has_part TST:0000010
alt_id: TST:0000099

[Term]
id: TST:0000006
name: gone
is_obsolete: true
is_a: ObsoleteClass
replaced_by: TST:0000001
consider: EFO:0000001

[Term]
id: TST:0000007
name: continued \
line
property_value: IAO:0100001 TST:0000002

[Typedef]
id: located_in
xref: BFO:0000050
"""


def tst(local: str) -> str:
    return f"{OBO}TST_{local}"


def test_obo_reader() -> None:
    data = parse_obo(OBO_SNIPPET.splitlines(keepends=True), Path("snippet.obo"))
    assert data.key == "tst"
    assert data.ontology_iri == OBO + "tst.owl"
    assert data.version_iri == OBO + "tst/2024-01-01/tst.owl"
    root = data.terms[tst("0000001")]
    assert root.label == "root, with comma!"
    assert root.definition == 'A "quoted" definition\nover two lines.'
    assert root.synonyms == [
        Synonym("exact one", SynonymScope.EXACT),
        Synonym("related one", SynonymScope.RELATED),
        Synonym("no scope", SynonymScope.RELATED),
    ]
    child = data.terms[tst("0000002")]
    assert child.label == "child {kept braces}"
    assert child.is_a == [tst("0000001"), tst("0000009")]  # is_a + intersection genus
    assert child.part_of == [tst("0000003"), tst("0000008"), tst("0000005")]
    assert child.alt_ids == ["TST:0000099"]
    gone = data.terms[tst("0000006")]
    assert gone.obsolete and gone.is_a == []
    assert gone.replaced_by == [tst("0000001")]
    assert gone.consider == [EFO + "EFO_0000001"]
    continued = data.terms[tst("0000007")]
    assert continued.label == "continued line"
    assert continued.replaced_by == [tst("0000002")]
    assert data.stats["unresolved_references"] == 1  # ObsoleteClass


def test_broken_obo_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.obo"
    broken.write_text('format-version: 1.2\n\n[Term]\nid: X:1\ndef: "never closed [\n')
    with pytest.raises(OntologySourceError, match=r"broken\.obo:5: def: expected a closed quoted"):
        read_source(broken)
    no_colon = tmp_path / "nocolon.obo"
    no_colon.write_text("[Term]\nid: X:1\njust words\n")
    with pytest.raises(OntologySourceError, match=r"nocolon\.obo:3: expected 'tag: value'"):
        read_source(no_colon)


CLOSURE_SNIPPET = {
    "ONT:0000001": {"label": "root", "ancestors": {}, "deprecated": False},
    "ONT:0000002": {
        "label": "mid",
        "description": "the middle",
        "synonyms": ["centre"],
        "ancestors": {"ONT:0000001": 1},
        "deprecated": False,
    },
    "ONT:0000003": {
        "label": "leaf",
        "ancestors": {"ONT:0000002": 1, "ONT:0000001": 2},
        "deprecated": False,
    },
    "ONT:0000004": {  # its parent was a class of another ontology, filtered out by the source
        "label": "bridged",
        "ancestors": {"ONT:0000001": 3},
        "deprecated": False,
    },
    "ONT:0000005": {
        "label": "obsolete thing",
        "ancestors": {},
        "deprecated": True,
        "replaced_by": "ONT:0000001",
        "consider": ["obo.ONT_0000002", "http://purl.obolibrary.org/obo/FMA_1"],
    },
}


def test_closure_reader_records_hierarchical_parents(tmp_path: Path) -> None:
    path = tmp_path / "ONT-ontology-v2024-05-06.json"
    path.write_text(json.dumps(CLOSURE_SNIPPET))
    data = read_source(path)
    ont = lambda n: f"{OBO}ONT_{n}"  # noqa: E731
    assert data.key == "ont"
    assert data.version_iri == OBO + "ont/releases/2024-05-06/ont.owl"
    leaf = data.terms[ont("0000003")]
    assert (leaf.broader, leaf.is_a, leaf.part_of) == ([ont("0000002")], [], [])
    assert data.terms[ont("0000004")].broader == [ont("0000001")]
    assert data.stats == {"direct_parents": 2, "bridged_parents": 1}
    mid = data.terms[ont("0000002")]
    assert mid.synonyms == [Synonym("centre", SynonymScope.UNSPECIFIED)]
    assert mid.definition == "the middle"
    gone = data.terms[ont("0000005")]
    assert gone.obsolete and gone.replaced_by == [ont("0000001")]
    assert gone.consider == [ont("0000002"), OBO + "FMA_1"]


def test_efo_closure_uses_ebi_iris_and_records_purl(tmp_path: Path) -> None:
    entries = {
        "EFO:0000001": {"label": "experimental factor", "ancestors": {}, "deprecated": False}
    }
    raw = json.dumps(entries).encode()
    zstd = pytest.importorskip("backports.zstd")
    path = tmp_path / "EFO-ontology-v3.1.0.json.zst"
    path.write_bytes(zstd.compress(raw))
    data = read_source(path)
    term = data.terms[EFO + "EFO_0000001"]
    assert term.equivalents == [OBO + "EFO_0000001"]
    assert data.ontology_iri == EFO + "efo.owl"
    assert data.version_iri == EFO + "releases/v3.1.0/efo.owl"


def test_broken_closure_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ONT-ontology-v1.json"
    path.write_text('{\n  "ONT:1": {"label": "x",\n  "ancestors": {}\n')
    with pytest.raises(OntologySourceError, match=r"ONT-ontology-v1\.json:4: invalid JSON"):
        read_source(path)
    path.write_text('{"ONT:1": {"ancestors": {}}}')
    with pytest.raises(OntologySourceError, match="has no string 'label'"):
        read_source(path)


RDFXML_SNIPPET = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:owl="http://www.w3.org/2002/07/owl#"
         xmlns:obo="http://purl.obolibrary.org/obo/"
         xmlns:oboInOwl="http://www.geneontology.org/formats/oboInOwl#">
  <owl:Ontology rdf:about="http://example.org/tst.owl">
    <owl:versionIRI rdf:resource="http://example.org/tst/1.0/tst.owl"/>
    <owl:versionInfo>1.0</owl:versionInfo>
  </owl:Ontology>
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/TST_1">
    <rdfs:label xml:lang="de">Wurzel</rdfs:label>
    <rdfs:label xml:lang="en">root &amp; "base"</rdfs:label>
    <oboInOwl:hasDefinition>Defined in EDAM style.</oboInOwl:hasDefinition>
    <oboInOwl:hasExactSynonym>origin</oboInOwl:hasExactSynonym>
    <oboInOwl:hasNarrowSynonym>radix</oboInOwl:hasNarrowSynonym>
  </owl:Class>
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/TST_2">
    <rdfs:label>part</rdfs:label>
    <obo:IAO_0000115>Defined in OBO style.</obo:IAO_0000115>
    <rdfs:subClassOf rdf:resource="http://purl.obolibrary.org/obo/TST_1"/>
    <rdfs:subClassOf>
      <owl:Restriction>
        <owl:onProperty rdf:resource="http://purl.obolibrary.org/obo/BFO_0000050"/>
        <owl:someValuesFrom rdf:resource="http://purl.obolibrary.org/obo/TST_3"/>
      </owl:Restriction>
    </rdfs:subClassOf>
    <rdfs:subClassOf>
      <owl:Restriction>
        <owl:onProperty rdf:resource="http://example.org/has_topic"/>
        <owl:someValuesFrom rdf:resource="http://purl.obolibrary.org/obo/TST_4"/>
      </owl:Restriction>
    </rdfs:subClassOf>
  </owl:Class>
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/TST_5">
    <rdfs:subClassOf rdf:resource="http://www.w3.org/2002/07/owl#DeprecatedClass"/>
    <oboInOwl:replacedBy rdf:resource="http://purl.obolibrary.org/obo/TST_1"/>
    <obo:IAO_0100001 rdf:resource="http://purl.obolibrary.org/obo/EFO_0000001"/>
  </owl:Class>
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/TST_6">
    <owl:deprecated rdf:datatype="http://www.w3.org/2001/XMLSchema#boolean">true</owl:deprecated>
    <owl:equivalentClass>
      <owl:Class>
        <owl:intersectionOf rdf:parseType="Collection">
          <rdf:Description rdf:about="http://purl.obolibrary.org/obo/TST_1"/>
          <owl:Restriction>
            <owl:onProperty rdf:resource="http://purl.obolibrary.org/obo/BFO_0000050"/>
            <owl:someValuesFrom rdf:resource="http://purl.obolibrary.org/obo/TST_2"/>
          </owl:Restriction>
        </owl:intersectionOf>
      </owl:Class>
    </owl:equivalentClass>
  </owl:Class>
</rdf:RDF>
"""


def test_rdfxml_reader(tmp_path: Path) -> None:
    path = tmp_path / "tst.owl"
    path.write_text(RDFXML_SNIPPET)
    data = read_source(path)
    assert data.source_format == "rdfxml"
    assert (data.ontology_iri, data.version_iri, data.version) == (
        "http://example.org/tst.owl",
        "http://example.org/tst/1.0/tst.owl",
        "1.0",
    )
    root = data.terms[tst("1")]
    assert root.label == 'root & "base"'
    assert root.definition == "Defined in EDAM style."
    assert set(root.synonyms) == {
        Synonym("origin", SynonymScope.EXACT),
        Synonym("radix", SynonymScope.NARROW),
    }
    part = data.terms[tst("2")]
    assert (part.is_a, part.part_of) == ([tst("1")], [tst("3")])
    assert part.definition == "Defined in OBO style."
    old = data.terms[tst("5")]
    assert old.obsolete and old.is_a == []
    assert sorted(old.replaced_by) == sorted([tst("1"), EFO + "EFO_0000001"])
    defined = data.terms[tst("6")]
    assert defined.obsolete
    assert (defined.is_a, defined.part_of) == ([tst("1")], [tst("2")])


def test_broken_rdfxml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.owl"
    path.write_text(RDFXML_SNIPPET.replace("</owl:Class>\n  <owl:Class", "\n  <owl:Class", 1))
    with pytest.raises(OntologySourceError, match=r"broken\.owl:\d+: invalid rdfxml"):
        read_source(path)


OWLXML_SNIPPET = """<?xml version="1.0"?>
<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://example.org/tst.owl"
          versionIRI="http://example.org/tst/2.0/tst.owl">
  <Prefix name="obo" IRI="http://purl.obolibrary.org/obo/"/>
  <Prefix name="rdfs" IRI="http://www.w3.org/2000/01/rdf-schema#"/>
  <Declaration><Class abbreviatedIRI="obo:TST_1"/></Declaration>
  <Declaration><Class IRI="http://purl.obolibrary.org/obo/TST_2"/></Declaration>
  <SubClassOf><Class abbreviatedIRI="obo:TST_2"/><Class abbreviatedIRI="obo:TST_1"/></SubClassOf>
  <SubClassOf>
    <Class abbreviatedIRI="obo:TST_2"/>
    <ObjectSomeValuesFrom>
      <ObjectProperty abbreviatedIRI="obo:BFO_0000050"/><Class abbreviatedIRI="obo:TST_3"/>
    </ObjectSomeValuesFrom>
  </SubClassOf>
  <AnnotationAssertion>
    <AnnotationProperty abbreviatedIRI="rdfs:label"/>
    <AbbreviatedIRI>obo:TST_2</AbbreviatedIRI><Literal>second</Literal>
  </AnnotationAssertion>
  <AnnotationAssertion>
    <AnnotationProperty IRI="http://www.geneontology.org/formats/oboInOwl#hasRelatedSynonym"/>
    <IRI>http://purl.obolibrary.org/obo/TST_2</IRI><Literal>2nd</Literal>
  </AnnotationAssertion>
</Ontology>
"""


def test_owlxml_reader(tmp_path: Path) -> None:
    path = tmp_path / "tst.owl"
    path.write_text(OWLXML_SNIPPET)
    data = read_source(path)
    assert data.source_format == "owlxml"
    assert data.version_iri == "http://example.org/tst/2.0/tst.owl"
    second = data.terms[tst("2")]
    assert second.label == "second"
    assert second.synonyms == [Synonym("2nd", SynonymScope.RELATED)]
    assert (second.is_a, second.part_of) == ([tst("1")], [tst("3")])


# ---- writer and bundle round trip --------------------------------------------------------------


def test_build_bundle_round_trips_through_turtle(tmp_path: Path) -> None:
    obo = tmp_path / "tst.obo"
    obo.write_text(OBO_SNIPPET)
    closure = tmp_path / "ONT-ontology-v2024-05-06.json"
    closure.write_text(json.dumps(CLOSURE_SNIPPET))
    out = tmp_path / "bundle"
    manifest = build_bundle([obo, closure], out, build_date="2024-01-01T00:00:00+00:00")
    assert [m.key for m in manifest.modules] == ["ont", "tst"]
    assert Manifest.load(out).to_json() == manifest.to_json()
    tst_module = manifest.module("tst")
    assert tst_module.licence == "unknown"
    assert tst_module.counts["classes"] == 4
    assert tst_module.counts["part_of_edges"] == 3
    original = read_source(obo)
    written = read_source(out / "tst.ttl.gz")
    assert written.ontology_iri == original.ontology_iri
    assert written.version_iri == original.version_iri
    for iri, term in original.terms.items():
        back = written.terms[iri]
        assert back.label == term.label
        assert back.definition == term.definition
        assert sorted(back.synonyms, key=lambda s: s.sort_key()) == sorted(
            term.synonyms, key=lambda s: s.sort_key()
        )
        assert (back.obsolete, sorted(back.replaced_by)) == (
            term.obsolete,
            sorted(term.replaced_by),
        )
        assert sorted(back.is_a) == sorted(term.is_a)
        assert sorted(back.part_of) == sorted(term.part_of)
    ont = read_source(out / "ont.ttl.gz")
    assert ont.terms[f"{OBO}ONT_0000004"].broader == [f"{OBO}ONT_0000001"]
    # the same sources give the same bytes
    first = {m.file: m.sha256 for m in manifest.modules}
    again = build_bundle([obo, closure], tmp_path / "again")
    assert {m.file: m.sha256 for m in again.modules} == first


def test_tampered_bundle_is_refused(tmp_path: Path) -> None:
    obo = tmp_path / "tst.obo"
    obo.write_text(OBO_SNIPPET)
    out = tmp_path / "bundle"
    build_bundle([obo], out)
    module = out / "tst.ttl.gz"
    module.write_bytes(gzip.compress(b"<http://x/a> <http://x/b> <http://x/c> .\n"))
    assert verify_bundle(out) == ["tst.ttl.gz: does not match manifest.json (rebuild the bundle)"]
    with pytest.raises(BundleError, match="inconsistent"):
        load_bundle_modules(out)


def test_two_sources_for_one_module_are_refused(tmp_path: Path) -> None:
    first = tmp_path / "a" / "tst.obo"
    second = tmp_path / "b" / "tst.obo"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text(OBO_SNIPPET)
    with pytest.raises(BundleError, match="two sources for module 'tst'"):
        build_bundle([first, second], tmp_path / "bundle")


def test_bad_source_leaves_previous_bundle_intact(tmp_path: Path) -> None:
    good = tmp_path / "tst.obo"
    good.write_text(OBO_SNIPPET)
    out = tmp_path / "bundle"
    before = build_bundle([good], out).to_json()
    broken = tmp_path / "bad.obo"
    broken.write_text('[Term]\nid: BAD:1\nname: unclosed\ndef: "oops\n')
    with pytest.raises(OntologySourceError, match=r"bad\.obo:4:"):
        build_bundle([good, broken], out)
    assert Manifest.load(out).to_json() == before
    assert verify_bundle(out) == []
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "tst.ttl.gz"]


def test_relative_paths_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tst.ttl").write_text(
        f'<{OBO}TST_1> a <{OWL}Class> ; <{RDFS}label> "one" .\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert read_source(Path("tst.ttl")).terms[tst("1")].label == "one"
