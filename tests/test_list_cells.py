"""Lists are skolemised (docs/mapping.md): a list's cells are hash IRIs of the node that owns it,
the same on every load. A track's page, its RDF, its JSON-LD, `DESCRIBE <track>` at /sparql and
the JSON export show the list, in order; and so they do on a store loaded before, whose lists
are blank nodes (written here through the store API)."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import write_json

from fairtracks_ld.load import load_sources
from fairtracks_ld.mapping.ensembl import prepare_ensembl
from fairtracks_ld.mapping.ensembl_export import track_record
from fairtracks_ld.mapping.export import export_document
from fairtracks_ld.mapping.namespaces import FT, RDF
from fairtracks_ld.mapping.to_rdf import quads_fast
from fairtracks_ld.paths import data_dir
from fairtracks_ld.store import TrackStore, members
from fairtracks_ld.store.snapshots import publish
from fairtracks_ld.web.app import create_app
from fairtracks_ld.web.settings import Settings

BASE = "http://127.0.0.1:8000/"
TRACK = BASE + "collection/encode_example/track/encode:ENCFF625ZYB"
IDS = ["encode:ENCFF207FGO", "encode:ENCFF842FEQ"]
FIRST, REST, NIL = (ox.NamedNode(RDF + name) for name in ("first", "rest", "nil"))
RAW_FILE_IDS = ox.NamedNode(FT + "raw_file_ids")


def load(folder: Path, document: dict) -> TrackStore:
    store = TrackStore(folder / "store", base=BASE)
    report = load_sources(store, [str(write_json(folder / "doc.json", document))])
    assert report.ok, report.not_loaded
    return store


def version_graph(store: TrackStore) -> ox.NamedNode:
    graph, = store.current_graphs()
    return graph


def items(triples: list[ox.Triple], subject: str, predicate: ox.NamedNode) -> list[str]:
    """The values of the list that is the subject's value of the predicate, in order."""
    edges: dict[object, dict[ox.NamedNode, object]] = {}
    for t in triples:
        edges.setdefault(t.subject, {})[t.predicate] = t.object
    head, found = edges[ox.NamedNode(subject)][predicate], []
    while head != NIL:
        found.append(edges[head][FIRST].value)
        head = edges[head][REST]
    return found


def as_blank_nodes(store: TrackStore) -> int:
    """Every list cell of the store (every graph, the view too) made a blank node, as a store
    loaded before lists were skolemised holds them; returns how many cells."""
    cells = {q.subject for q in store.ox.quads_for_pattern(None, FIRST, None, None)}
    blank = {cell: ox.BlankNode() for cell in cells}  # the same node in a graph and the view
    touched = {q for cell in cells for q in [*store.ox.quads_for_pattern(cell, None, None, None),
                                             *store.ox.quads_for_pattern(None, None, cell, None)]}
    for quad in touched:
        store.ox.remove(quad)
    store.ox.extend(ox.Quad(blank.get(q.subject, q.subject), q.predicate,
                            blank.get(q.object, q.object), q.graph_name) for q in touched)
    return len(cells)


def test_list_cells_are_hash_iris_of_their_track_the_same_on_every_load(tmp_path, example):
    """The document's version graph and the view, loaded twice, are the very same quads, with
    no blank node (the validation report, not the mapping's, keeps its own)."""
    stores = [load(tmp_path / name, example) for name in ("one", "two")]
    everything = []
    for store in stores:
        graph = version_graph(store)  # stored once: read from its record
        everything.append({*store.graph_quads(graph.value),
                           *store.ox.quads_for_pattern(None, None, None, ox.DefaultGraph())})
    assert everything[0] == everything[1]
    assert not any(isinstance(t, ox.BlankNode) for q in everything[0]
                   for t in (q.subject, q.object) if q.graph_name != ox.DefaultGraph())
    view = [q.triple for q in everything[0] if q.graph_name == ox.DefaultGraph()]
    cells = [f"{TRACK}#raw_file_ids-list-{n}" for n in (1, 2)]
    assert ox.Triple(ox.NamedNode(TRACK), RAW_FILE_IDS, ox.NamedNode(cells[0])) in view
    assert ox.Triple(ox.NamedNode(cells[0]), REST, ox.NamedNode(cells[1])) in view
    assert ox.Triple(ox.NamedNode(cells[1]), REST, NIL) in view
    assert items(view, TRACK, RAW_FILE_IDS) == IDS


@pytest.fixture(scope="module", params=["skolemised", "blank nodes"])
def served(request, tmp_path_factory, examples):
    """A store of the v1-current example (its CURIE slip fixed) as loaded now, or with its list
    cells blank nodes as loaded before, and a test client of the application serving it."""
    document = json.loads(json.dumps(examples["v1-current"]))
    document["tracks"][0]["raw_file_ids"][0] = IDS[0]
    folder = tmp_path_factory.mktemp("lists")
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "blank nodes":  # a store of an earlier layout: named graphs
            patch.setenv(members.SWITCH, "0")
        store = load(folder, document)
    if request.param == "blank nodes":
        assert as_blank_nodes(store) > 0
    graph = version_graph(store).value
    exported = export_document(store.graph_quads(graph), store.version(graph).document)
    publish(store)
    path = Path(store.path)
    del store
    app = create_app(Settings(store=path, query_workers=1, cache=False))
    yield app.test_client(), document, exported
    app.extensions["executor"].close()


def get(client, path: str, accept: str, **params) -> bytes:
    answer = client.get(path, headers={"Accept": accept}, query_string=params,
                        base_url=BASE.rstrip("/"))
    assert answer.status_code == 200, answer.data[:500]
    return answer.data


def test_the_json_export_gives_the_list_back_in_order(served):
    _, document, exported = served
    assert exported["tracks"][0]["raw_file_ids"] == IDS
    assert exported == document


def test_the_track_dereferenced_as_rdf_holds_its_list(served):
    client, _, _ = served
    body = get(client, TRACK[len(BASE) - 1:], "application/n-triples")
    triples = list(ox.parse(body, format=ox.RdfFormat.N_TRIPLES))
    assert items(triples, TRACK, RAW_FILE_IDS) == IDS


def test_the_track_as_json_ld_has_its_list_as_an_array(served):
    client, _, _ = served
    body = json.loads(get(client, TRACK[len(BASE) - 1:] + ".jsonld", "application/ld+json"))
    assert body["raw_file_ids"] == IDS


def test_the_track_page_shows_the_list_not_its_cells(served):
    client, _, _ = served
    page = get(client, TRACK[len(BASE) - 1:], "text/html").decode()
    assert "<ol><li>" + "</li><li>".join(IDS) + "</li></ol>" in page.replace("\n", "")
    assert "raw_file_ids-list-" not in page  # no cell shown as a nested object


@pytest.mark.parametrize("accept", ["application/n-triples", "text/turtle"])
def test_describe_of_the_track_holds_its_list_and_nested_objects(served, accept):
    client, _, _ = served
    body = get(client, "/sparql", accept, query=f"DESCRIBE <{TRACK}>")
    syntax = ox.RdfFormat.N_TRIPLES if accept == "application/n-triples" else \
        ox.RdfFormat.TURTLE
    triples = list(ox.parse(body, format=syntax))
    assert items(triples, TRACK, RAW_FILE_IDS) == IDS
    assert any(t.subject == ox.NamedNode(TRACK + "#checksum") for t in triples)


@pytest.mark.parametrize("cells", ["skolemised", "blank nodes"])
def test_an_ensembl_record_reads_its_list(cells):
    document = json.loads((data_dir("standard") / "ensembl" / "examples" /
                           "gencode-m24.mysql.json").read_text(encoding="utf-8"))
    prepared = prepare_ensembl(document, BASE)
    quads = quads_fast(prepared)
    if cells == "blank nodes":
        listed = {q.subject for q in quads if q.predicate == FIRST}
        blank = {cell: ox.BlankNode() for cell in listed}
        quads = [ox.Quad(blank.get(q.subject, q.subject), q.predicate,
                         blank.get(q.object, q.object), q.graph_name) for q in quads]
        assert len(blank) == 2
    else:
        assert not any(isinstance(q.subject, ox.BlankNode) for q in quads)
    record = track_record(quads, prepared.document_iri)
    assert record["location_logic_names"] == document["location"]["location_logic_names"]


def test_describe_of_a_nested_object_holds_the_objects_nested_in_it(served):
    """Under an IRI that has a fragment, nested nodes add a step to it (`…#sample_type` holds
    `…#sample_type/cell_type`)."""
    client, _, _ = served
    found = json.loads(get(client, "/sparql", "application/sparql-results+json", query=(
        "SELECT ?s ?c WHERE { ?s ?p ?c FILTER(isIRI(?c) && CONTAINS(STR(?s), '#') && "
        "STRSTARTS(STR(?c), CONCAT(STR(?s), '/'))) } LIMIT 1")))["results"]["bindings"][0]
    node, child = found["s"]["value"], found["c"]["value"]
    body = get(client, "/sparql", "application/n-triples", query=f"DESCRIBE <{node}>")
    assert {t.subject.value for t in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)} == \
        {node, child}
