"""`fairtracks-ld publish`: the store written into real external SPARQL stores (Virtuoso open
source and `oxigraph serve`), graph for graph, incrementally, resumably, with one-line errors."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from conftest import BASE
from servers import EXAMPLES, cli, free_port
from servers import oxigraph_serve as serve_oxigraph
from virtuoso import PASSWORD, virtuoso

from fairtracks_ld.publication.plan import make_plan
from fairtracks_ld.publication.state import read_state
from fairtracks_ld.publication.target import Endpoints, Target
from fairtracks_ld.publication.view import STAMP_QUERY, catalog_stamp, view_graph
from fairtracks_ld.publication.virtuoso_bulk import VirtuosoBulkLoader
from fairtracks_ld.store import TrackStore
from fairtracks_ld.store.records import AsQuads
from fairtracks_ld.store.snapshots import current_snapshot

XSD = "http://www.w3.org/2001/XMLSchema#"
TINY = """format-version: 1.2
data-version: 2020-01-01
ontology: tiny

[Term]
id: TINY:0000001
name: root thing
"""


@dataclass
class Engine:
    """One running target and the options `publish` needs to reach it."""

    name: str
    endpoints: Endpoints
    options: tuple[str, ...]
    bulk: tuple[str, ...] = ()  # the options of Virtuoso's bulk loader
    server: Any = None  # the Virtuoso (tests/virtuoso.py), for its SQL

    def target(self) -> Target:
        return Target(self.endpoints)


@contextmanager
def oxigraph_serve(folder: Path) -> Iterator[Engine]:
    with serve_oxigraph(folder) as (base, _):
        endpoints = Endpoints(f"{base}/query", f"{base}/update", f"{base}/store")
        yield Engine("oxigraph", endpoints, ("--to", endpoints.query, "--update-endpoint",
                                             endpoints.update))


@pytest.fixture(scope="module", params=["virtuoso", "oxigraph"])
def engine(request, tmp_path_factory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "oxigraph":
        with oxigraph_serve(folder / "db") as served:
            yield served
        return
    shared = folder / "shared"  # a folder Virtuoso's bulk loader may read
    shared.mkdir()
    with virtuoso(folder / "v", extra_dirs=(shared,)) as server:
        base = f"http://127.0.0.1:{server.http_port}"
        endpoints = Endpoints(server.sparql_url, gsp=f"{base}/sparql-graph-crud")
        # update by SPARQL Update; a graph whose blank nodes hang together beyond what one
        # Virtuoso update can carry (a big validation report) goes by Graph Store PUT
        yield Engine("virtuoso", endpoints, ("--to", server.sparql_url, "--method", "update",
                                             "--gsp", endpoints.gsp),
                     bulk=("--method", "virtuoso-bulk", "--virtuoso-isql",
                           f"127.0.0.1:{server.sql_port}", "--bulk-dir", str(shared)),
                     server=server)


@pytest.fixture(scope="module")
def store_path(engine, tmp_path_factory) -> Path:
    """The bundled examples (each its own version of one document), loaded for this engine."""
    path = tmp_path_factory.mktemp(f"store-{engine.name}") / "store"
    cli(path, BASE, "load", "--allow-invalid", *EXAMPLES)
    return path


def publish(store: Path, engine: Engine, *args: str, options: tuple[str, ...] | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                           "publish", *(engine.options if options is None else options), *args],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "FAIRTRACKS_LD_ISQL_PASSWORD": PASSWORD,
                               **(env or {})})


def reader(store: Path) -> TrackStore:
    return TrackStore(current_snapshot(store), base=BASE, read_only=True)


def canonical(triples: list[ox.Triple], virtuoso_literals: bool) -> set[str]:
    """The triples with blank nodes renamed canonically; for Virtuoso also with the literal
    forms it normalises (language tags in lower case, decimals and the fractional seconds of
    xsd:dateTime in its own lexical form), which name the same values."""
    dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    out = set()
    for quad in dataset:
        text = str(quad.triple)
        if virtuoso_literals and isinstance(quad.object, ox.Literal):
            text = str(ox.Triple(quad.subject, quad.predicate, _virtuoso_form(quad.object)))
        out.add(text)
    return out


def _virtuoso_form(literal: ox.Literal) -> ox.Literal:
    if literal.language:
        return ox.Literal(literal.value, language=literal.language.lower())
    if literal.datatype.value == XSD + "dateTime":  # fractional seconds: 6 digits always
        return ox.Literal(re.sub(r"(\.\d*?)0+(?=Z|[+-]\d\d:\d\d$|$)", r"\1",
                                 literal.value).replace(".Z", "Z"), datatype=literal.datatype)
    if literal.datatype.value == XSD + "decimal" and "." in literal.value:
        return ox.Literal(literal.value.rstrip("0").rstrip(".") + (
            "" if "." in literal.value.rstrip("0").rstrip(".") else ".0"),
            datatype=literal.datatype)
    return literal


def assert_mirrored(store: TrackStore, engine: Engine, history: bool = False) -> None:
    """Every graph of the publication holds in the target exactly what it holds locally."""
    target = engine.target()
    plan = make_plan(store, history=history)
    assert plan.graphs
    for graph in (*plan.graphs, plan.catalog):
        local = [q.triple for q in store.graph_quads(graph.iri)]
        remote = target.triples(graph.iri)
        virtuoso_literals = engine.name == "virtuoso"
        assert canonical(remote, virtuoso_literals) == canonical(local, virtuoso_literals), \
            graph.iri
    state = read_state(target, store.base)
    assert set(state.default_graphs) == set(plan.default_graphs)
    assert set(state.published) == plan.iris
    assert not state.staged
    assert_view_graph(store, engine)


def assert_view_graph(store: TrackStore, engine: Engine) -> set[str]:
    """The target's view graph holds the local store's view (its default graph) as a set, and
    the record says it is in step with the catalog as published; returns its triples."""
    target = engine.target()
    virtuoso_literals = engine.name == "virtuoso"
    local = [q.triple for q in store.ox.quads_for_pattern(None, None, None, ox.DefaultGraph())]
    remote = canonical(target.triples(view_graph(store.base)), virtuoso_literals)
    assert remote == canonical(local, virtuoso_literals)
    assert read_state(target, store.base).view_stamp == \
        catalog_stamp(target.select(STAMP_QUERY))[0]
    return remote


def counts(output: str) -> dict[str, int]:
    found = dict((name, int(n)) for n, name in re.findall(r"(\d+) (graphs sent|dropped|"
                                                            r"unchanged|requests)", output))
    return found


def test_publish_mirrors_every_graph_and_a_rerun_sends_nothing(store_path, engine):
    first = publish(store_path, engine)
    assert first.returncode == 0, first.stderr
    assert "catalog updated" in first.stdout
    assert_mirrored(reader(store_path), engine)
    again = publish(store_path, engine)
    assert again.returncode == 0, again.stderr
    assert "is up to date" in again.stdout
    assert counts(again.stdout)["requests"] == 1  # one query for the record, nothing sent
    graphs = len(make_plan(reader(store_path)).graphs)
    dry = publish(store_path, engine, "--full", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("would send <") == graphs
    full = publish(store_path, engine, "--full")
    assert full.returncode == 0 and counts(full.stdout)["graphs sent"] == graphs
    assert_mirrored(reader(store_path), engine)


def test_history_publishes_every_version_by_update_and_by_graph_store(store_path, engine):
    gsp = ("--method", "gsp", "--gsp", engine.endpoints.gsp)
    for args, history in [(("--history",), True), (gsp, False), (("--history", *gsp), True),
                          ((), False)]:
        done = publish(store_path, engine, *args)
        assert done.returncode == 0, done.stderr
        found = counts(done.stdout)
        assert found["graphs sent" if history else "dropped"] > 0, done.stdout
        assert (" by gsp: " in done.stdout) == ("gsp" in args)
        assert_mirrored(reader(store_path), engine, history=history)


@pytest.mark.parametrize("engine", ["virtuoso"], indirect=True)  # the loader is Virtuoso's own
def test_virtuoso_bulk_loader_publishes_the_same(store_path, engine):
    assert engine.bulk
    for args, history in [(("--history",), True), ((), False)]:
        done = publish(store_path, engine, *engine.bulk, *args)
        assert done.returncode == 0, done.stderr
        assert " by virtuoso-bulk: " in done.stdout
        assert_mirrored(reader(store_path), engine, history=history)
    assert not list(Path(engine.bulk[-1]).iterdir())  # the loaded files are removed


@pytest.mark.parametrize("engine", ["virtuoso"], indirect=True)
def test_the_bulk_loader_replaces_published_graphs_through_staging_copies(store_path, engine):
    """A second bulk publish of every graph (--full) loads staging copies and moves them into
    place: the target then holds each graph once, as in the store, and no staging copy."""
    first = publish(store_path, engine, *engine.bulk)
    assert first.returncode == 0, first.stderr
    full = publish(store_path, engine, *engine.bulk, "--full")
    assert full.returncode == 0, full.stderr
    assert counts(full.stdout)["graphs sent"] == len(make_plan(reader(store_path)).graphs)
    assert_mirrored(reader(store_path), engine)
    staged = engine.target().select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
                                    "FILTER(CONTAINS(STR(?g), '/staging/')) }")
    assert staged == []


def test_bulk_files_hold_each_graphs_quads_under_its_target_name(tmp_path):
    """The loader writes Oxigraph's N-Triples dump as N-Quads by putting the graph before each
    line's ` .`: literals holding ` .`, escaped line breaks, quotes and any chunking of the
    dump's writes must come out as the same quads."""
    store = TrackStore(tmp_path / "s", base=BASE)
    graph, name = ox.NamedNode("https://g.example/a"), ox.NamedNode("https://g.example/b")
    node, blank = ox.NamedNode("https://s.example/x"), ox.BlankNode()
    texts = ["ends with a dot .", "line .\nbreak .", 'quote " .', "tab\t.", " . ", "é ."]
    quads = [ox.Quad(node, ox.NamedNode(f"https://p.example/{i}"), ox.Literal(text), graph)
             for i, text in enumerate(texts)]
    quads += [ox.Quad(node, ox.NamedNode("https://p.example/b"), blank, graph),
              ox.Quad(blank, ox.NamedNode("https://p.example/l"),
                      ox.Literal("x .", language="en"), graph)]
    store.ox.extend(quads)
    expected = {str(ox.Quad(q.subject, q.predicate, q.object, name)) for q in quads}

    class Chunked(io.BytesIO):  # the sink sees the dump cut at every 7th byte
        def __init__(self) -> None:
            super().__init__()
            self.sink = AsQuads(self, name.value)

    out = Chunked()
    whole = io.BytesIO()
    store.dump(whole, ox.RdfFormat.N_TRIPLES, graph.value)
    data = whole.getvalue()
    for start in range(0, len(data), 7):
        out.sink.write(data[start:start + 7])
    assert out.sink.lines == len(quads)
    found = {str(q) for q in ox.parse(out.getvalue(), format=ox.RdfFormat.N_QUADS)}
    assert found == expected


@pytest.mark.parametrize("engine", ["virtuoso"], indirect=True)
def test_the_bulk_loader_writes_no_further_ahead_of_virtuoso_than_its_bound(
        store_path, engine, monkeypatch):
    """Virtuoso loads more slowly than the store writes: the files waiting in the bulk folder
    stay within the loader's bound (here 2 files of one graph each, where an unbounded writer
    would leave one per graph), and every graph is loaded whole."""
    monkeypatch.setenv("FAIRTRACKS_LD_ISQL_PASSWORD", PASSWORD)
    folder = Path(engine.bulk[-1])
    store = reader(store_path)
    graphs = [v.graph for v in store.versions()] * 3  # 1 byte a file: a file per graph
    names = [f"urn:test:bounded:{i}" for i in range(len(graphs))]
    loader = VirtuosoBulkLoader(engine.bulk[engine.bulk.index("--virtuoso-isql") + 1], folder,
                                file_bytes=1, waiting=2)
    most, done = 0, threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, sum(1 for f in folder.iterdir() if f.suffix == ".nq"))
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        sent = [loader.add(store, graph, name) for graph, name in zip(graphs, names, strict=True)]
        loader.load()
    finally:
        done.set()
        watcher.join()
    try:
        assert 1 <= most <= 2, most
        for name, triples in zip(names, sent, strict=True):
            found = engine.target().select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{name}> "
                                           "{ ?s ?p ?o } }")
            assert int(found[0]["n"].value) == triples > 0
    finally:
        engine.target().update(" ; ".join(f"DROP SILENT GRAPH <{name}>" for name in names))


@pytest.mark.parametrize("engine", ["virtuoso"], indirect=True)
def test_the_isql_password_never_shows_in_the_process_list(store_path, engine):
    """The bulk loader's isql gets dba's password on its input: every process's command line
    is read while the publish runs, and isql must be seen there without it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store_path), "publish",
         *engine.bulk, "--to", engine.endpoints.query, "--full"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ,
                                                    FAIRTRACKS_LD_ISQL_PASSWORD=PASSWORD))
    isql_seen, leaked = 0, []
    while process.poll() is None:
        for path in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                args = path.read_bytes().split(b"\0")
            except OSError:
                continue
            isql_seen += args[0].endswith(b"isql-vt")
            if PASSWORD.encode() in b" ".join(args):
                leaked.append(args)
        time.sleep(0.005)
    out, err = process.communicate()
    assert process.returncode == 0, err
    assert " by virtuoso-bulk: " in out
    assert isql_seen and not leaked
    assert_mirrored(reader(store_path), engine)


@pytest.mark.parametrize("engine", ["virtuoso"], indirect=True)
def test_a_graph_too_big_for_one_put_on_virtuoso_is_refused_before_anything_is_sent(
        store_path, engine):
    before = read_state(engine.target(), BASE)
    gsp = ("--method", "gsp", "--gsp", engine.endpoints.gsp, "--full")
    refused = publish(store_path, engine, *gsp, "--max-put", "50")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "more than 50 triples, too many for one Graph Store PUT on Virtuoso" in \
        refused.stderr
    assert "--method virtuoso-bulk" in refused.stderr and "run the same" not in refused.stderr
    assert read_state(engine.target(), BASE) == before  # nothing was written
    done = publish(store_path, engine, *gsp)  # the default limit: these graphs go by PUT
    assert done.returncode == 0 and " by gsp: " in done.stdout, done.stderr
    assert_mirrored(reader(store_path), engine)
    by_update = publish(store_path, engine, "--full", "--max-put", "50")
    assert by_update.returncode == 0 and " by update: " in by_update.stdout
    note = by_update.stderr.splitlines()
    assert len(note) == 1 and note[0].startswith("note: ") and " graphs of more than 50 " \
        "triples went to Virtuoso by SPARQL Update" in note[0] and "virtuoso-bulk" in note[0]
    quiet = publish(store_path, engine, "--full")  # under the default limit: no note
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_only_new_and_withdrawn_versions_are_sent_or_dropped(store_path, engine, tmp_path):
    before = {v.graph for v in reader(store_path).versions()}
    cli(store_path, BASE, "generate", "--tracks", "30", "--seed", "3", "--out",
        str(tmp_path / "corpus"))
    cli(store_path, BASE, "load", str(tmp_path / "corpus"))
    cli(store_path, BASE, "withdraw", "encode_example", "--reason", "superseded")
    store = reader(store_path)
    new = [v for v in store.versions() if v.graph not in before]
    withdrawn = {v.graph for v in store.versions() if v.graph in before}
    plan_before = read_state(engine.target(), BASE)
    done = publish(store_path, engine, "-v")
    assert done.returncode == 0, done.stderr
    sent = set(re.findall(r"sent <([^>]+)>", done.stderr))
    assert {v.graph for v in new} <= sent
    assert all(any(g.startswith(v.graph) for v in new) for g in sent)  # nothing else sent
    dropped = {g for g in plan_before.published if g not in make_plan(store).iris}
    assert dropped and all(any(g.startswith(w) for w in withdrawn) for g in dropped)
    assert counts(done.stdout)["dropped"] == len(dropped)
    assert_mirrored(store, engine)


def test_an_ontology_change_sends_the_ontology_and_the_closure_only(store_path, engine,
                                                                    tmp_path):
    """No version's graphs hold anything derived from the ontologies (ancestor-aware answers
    join the closure), so an ontology change sends its ontology graph and the closure, and
    no version graph again."""
    source = tmp_path / "tiny.obo"
    source.write_text(TINY)
    cli(store_path, BASE, "ontologies", "add", str(source))
    done = publish(store_path, engine, "-v")
    assert done.returncode == 0, done.stderr
    roles = re.findall(r"sent <[^>]+> \((\w+),", done.stderr)
    assert sorted(roles) == ["closure", "ontology"], done.stderr
    assert_mirrored(reader(store_path), engine)


def test_a_triple_two_sources_hold_stays_in_the_view_graph_while_one_of_them_is_current(
        store_path, engine, tmp_path):
    """Two ontologies both declaring a term: a new release of one drops it, the other still
    holds it, so the view graph keeps it (a set: once, while a source holds it)."""
    shared = TINY.replace("ontology: tiny", "ontology: sharedone").replace("TINY", "SHARED")
    two = shared.replace("ontology: sharedone", "ontology: sharedtwo") + \
        "\n[Term]\nid: SHARED:0000002\nname: other thing\n"
    for name, text in (("one", shared), ("two", two)):
        (tmp_path / f"{name}.obo").write_text(text)
        cli(store_path, BASE, "ontologies", "add", str(tmp_path / f"{name}.obo"))
    held = '<http://purl.obolibrary.org/obo/SHARED_0000001> ' \
        '<http://www.w3.org/2000/01/rdf-schema#label> "root thing"'
    done = publish(store_path, engine)
    assert done.returncode == 0, done.stderr
    assert any(t.startswith(held) for t in assert_view_graph(reader(store_path), engine))
    (tmp_path / "two.obo").write_text(two.replace("2020-01-01", "2020-02-01").replace(
        "[Term]\nid: SHARED:0000001\nname: root thing\n", ""))
    cli(store_path, BASE, "ontologies", "add", str(tmp_path / "two.obo"))
    store = reader(store_path)
    graph = next(o.graph for o in store.ontologies() if "sharedtwo" in o.graph)
    assert not any(str(q.triple).startswith(held) for q in store.graph_quads(graph))
    done = publish(store_path, engine, "-v")
    assert done.returncode == 0, done.stderr
    assert f"view graph: gave up <{graph}>" in done.stderr  # incrementally, not rebuilt
    assert any(t.startswith(held) for t in assert_view_graph(reader(store_path), engine))
    assert_mirrored(reader(store_path), engine)


def test_an_interrupted_publish_keeps_the_previous_one_and_a_rerun_completes(
        store_path, engine, tmp_path):
    cli(store_path, BASE, "generate", "--tracks", "300", "--seed", "4", "--out",
        str(tmp_path / "big"))
    cli(store_path, BASE, "load", str(tmp_path / "big"))
    store = reader(store_path)
    new = next(v for v in store.versions() if v.source.startswith(str(tmp_path / "big")))
    target = engine.target()
    catalog = {str(t) for t in target.triples(store.catalog)}
    process = subprocess.Popen(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store_path), "publish",
         *engine.options, "--batch", "25"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    deadline = time.time() + 120
    while new.graph not in read_state(target, BASE).published:  # the version graph is in
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "interrupted" in err and "run the same command again" in err
    assert "Traceback" not in err
    # readers of the target still see the previous publication: the catalog does not name it
    assert {str(t) for t in target.triples(store.catalog)} == catalog
    assert new.graph not in read_state(target, BASE).default_graphs
    rerun = publish(store_path, engine, "-v")
    assert rerun.returncode == 0, rerun.stderr
    assert f"sent <{new.graph}> " not in rerun.stderr  # completed work is kept
    assert_mirrored(reader(store_path), engine)


@pytest.mark.parametrize("engine", ["virtuoso"], indirect=True)  # oxigraph serve has no auth
def test_digest_credentials_come_from_the_environment(store_path, engine):
    assert engine.server is not None
    engine.server.isql("DB.DBA.USER_CREATE('publisher', 'p4ss')",
                       'GRANT SPARQL_UPDATE TO "publisher"',
                       'GRANT EXECUTE ON DB.DBA.SPARQL_INSERT_DICT_CONTENT TO "publisher"',
                       'GRANT EXECUTE ON DB.DBA.SPARQL_DELETE_DICT_CONTENT TO "publisher"')
    base = f"http://127.0.0.1:{engine.server.http_port}"
    options = ("--to", f"{base}/sparql-auth", "--gsp", f"{base}/sparql-graph-crud-auth",
               "--method", "update", "--auth", "digest")
    user = {"FAIRTRACKS_LD_TARGET_USER": "publisher"}
    wrong = publish(store_path, engine, "--history", options=options,
                    env={**user, "FAIRTRACKS_LD_TARGET_PASSWORD": "wrong"})
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1
    assert "answered 401" in wrong.stderr and "check the credentials" in wrong.stderr
    missing = publish(store_path, engine, options=options, env=user)
    assert missing.returncode == 2 and "FAIRTRACKS_LD_TARGET_PASSWORD" in missing.stderr
    done = publish(store_path, engine, "--history", options=options,
                   env={**user, "FAIRTRACKS_LD_TARGET_PASSWORD": "p4ss"})
    assert done.returncode == 0, done.stderr
    assert "p4ss" not in " ".join(map(str, done.args))
    assert_mirrored(reader(store_path), engine, history=True)
    assert publish(store_path, engine).returncode == 0  # back to the current view


def test_an_unreachable_or_refusing_target_is_one_line(store_path, engine):
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store",
                           str(store_path), "publish", "--to", f"http://127.0.0.1:{port}/sparql"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"cannot reach http://127.0.0.1:{port}/sparql (Connection refused)" in done.stderr
    # updates sent where the engine has no endpoint: its refusal, in one line
    refused = publish(store_path, engine, "--history", "--update-endpoint",
                      engine.endpoints.query + "-nothing-here")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert re.search(r"answered 4\d\d ", refused.stderr), refused.stderr


@pytest.mark.parametrize("engine", ["virtuoso"], indirect=True)
def test_a_wrong_isql_password_is_one_line(store_path, engine):
    """Last of the Virtuoso tests: after 4 failed logins Virtuoso refuses this address for a
    minute, isql included."""
    wrong = publish(store_path, engine, *engine.bulk, "--full",
                    env={"FAIRTRACKS_LD_ISQL_PASSWORD": "not-" + PASSWORD})
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1, wrong.stderr
    assert "bad login" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "run the same command again" in wrong.stderr
