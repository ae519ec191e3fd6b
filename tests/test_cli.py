"""The `fairtracks-ld` command line, run as a real process: outputs parse, exit codes hold."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BASE, write_json
from rdflib import Dataset, Graph

from fairtracks_ld.standard import example_documents

EXAMPLES = [str(p) for p in example_documents().values()]


def run(store: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
         *args],
        input=stdin, capture_output=True, timeout=120,
    )


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("cli") / "store"
    result = run(store, "load", "--allow-invalid", *EXAMPLES)
    assert result.returncode == 0, result.stderr.decode()
    return store


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("load", "query", "dump", "export", "stats", "generate"):
        assert command in result.stdout


def test_load_refuses_a_document_breaking_the_standard_and_changes_nothing(tmp_path):
    store = tmp_path / "s"
    assert run(store, "load", EXAMPLES[1]).returncode == 0  # the master example is valid
    before = run(store, "dump", "--format", "nq").stdout
    result = run(store, "load", EXAMPLES[0])  # the v1-current one writes "encode: ENCFF207FGO"
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "breaks the standard: 1 violation(s):\n  violation: /tracks/0/raw_file_ids/0" in err
    assert "--allow-invalid" in err and '(value: "encode: ENCFF207FGO")' in err
    assert "0 loaded, 1 refused (breaks the standard), 0 failed" in err
    assert run(store, "dump", "--format", "nq").stdout == before


def test_allow_invalid_loads_and_keeps_the_report(tmp_path):
    store = tmp_path / "s"
    result = run(store, "load", "--allow-invalid", EXAMPLES[0])
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "/collection/encode_example/document/0/version/" in out
    assert "INVALID, loaded with --allow-invalid: 1 violation(s)" in out
    assert "fairtracks:1" not in out  # the standard's global_ids link to /resolve: no warning
    query = """PREFIX sh: <http://www.w3.org/ns/shacl#>
        SELECT ?conforms ?violations ?value WHERE {
          GRAPH ?catalog { ?g ft:conforms ?conforms ; ft:violation_count ?violations ;
                              ft:validation_report ?report }
          GRAPH ?report { ?r sh:resultSeverity sh:Violation ; sh:value ?value } }"""
    rows = json.loads(run(store, "query", "--all-graphs", query, "--format", "json").stdout)
    row, = rows["results"]["bindings"]
    assert row["conforms"]["value"] == "false" and row["violations"]["value"] == "1"
    assert row["value"]["value"] == "encode: ENCFF207FGO"


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv", "xml", "table"])
def test_select_results_in_every_format(loaded, fmt):
    query = "SELECT ?t ?label WHERE { ?t a ft:Track ; ft:label_short ?label } ORDER BY ?t"
    result = run(loaded, "query", query, "--format", fmt)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    if fmt == "json":
        bindings = json.loads(text)["results"]["bindings"]
        assert len(bindings) == 8 and "label" in bindings[0]
    else:
        assert "H3K4me3 B cell peaks r1" in text


@pytest.mark.parametrize(("fmt", "rdflib_format"),
                         [("turtle", "turtle"), ("ntriples", "nt"), ("jsonld", "json-ld"),
                          ("rdfxml", "xml")])
def test_graph_results_parse_back(loaded, fmt, rdflib_format):
    query = "CONSTRUCT { ?t ?p ?o } WHERE { ?t a ft:Track ; ?p ?o }"
    result = run(loaded, "query", query, "--format", fmt)
    assert result.returncode == 0, result.stderr
    graph = Graph().parse(data=result.stdout, format=rdflib_format)
    assert len(graph) > 50


def test_query_from_file_and_ask(loaded, tmp_path):
    path = tmp_path / "q.rq"
    path.write_text("ASK { ?t a ft:Track }")
    result = run(loaded, "query", f"@{path}")
    assert result.stdout.decode().strip() == "true"


def test_bad_sparql_is_a_usage_error(loaded):
    result = run(loaded, "query", "SELECT WHERE {")
    assert result.returncode == 2
    assert "SPARQL syntax error" in result.stderr.decode()


@pytest.mark.parametrize(("fmt", "rdflib_format"), [("nq", "nquads"), ("trig", "trig")])
def test_dump_the_whole_store(loaded, tmp_path, fmt, rdflib_format):
    out = tmp_path / f"dump.{fmt}.gz"
    assert run(loaded, "dump", "--format", fmt, "-o", str(out)).returncode == 0
    dataset = Dataset()
    dataset.parse(data=gzip.decompress(out.read_bytes()), format=rdflib_format)
    assert len(list(dataset.graphs())) >= 3  # two versions + the catalog


def test_dump_one_graph_as_turtle(loaded):
    versions = run(loaded, "query", "SELECT ?g WHERE { GRAPH ?c { ?d ft:current_version ?g } }",
                   "--format", "json")
    graph = json.loads(versions.stdout)["results"]["bindings"][0]["g"]["value"]
    result = run(loaded, "dump", "--format", "ttl", "--graph", graph)
    assert result.returncode == 0
    assert len(Graph().parse(data=result.stdout, format="turtle")) > 100
    assert run(loaded, "dump", "--format", "ttl").returncode == 1  # ttl holds one graph
    assert run(loaded, "dump", "--graph", BASE + "nope").returncode == 1


def test_export_reproduces_the_current_document(loaded):
    result = run(loaded, "export", "encode_example")
    assert result.returncode == 0, result.stderr
    master = json.loads(Path(EXAMPLES[1]).read_text())
    assert json.loads(result.stdout) == master


def test_export_an_earlier_version(loaded):
    v1 = json.loads(Path(EXAMPLES[0]).read_text())
    result = run(loaded, "export", BASE + "collection/encode_example",
                 "--version", v1["doc_info"]["doc_version"])
    assert json.loads(result.stdout) == v1


def test_export_of_an_unknown_collection_fails(loaded):
    assert run(loaded, "export", "no-such-collection").returncode == 1


def test_stats(loaded):
    stats = json.loads(run(loaded, "stats").stdout)
    assert stats["document_versions"] == 2 and stats["documents"] == 1
    assert stats["current_view"]["Track"] == 8
    assert stats["base_iri"] == BASE


def test_optimize_compacts_and_publishes_the_same_data(loaded):
    """The same data: every graph as dumped (a version stored once as its graph), the members
    graph aside, which gains the versions `optimize` stores once (store/members.py)."""
    from fairtracks_ld.store.snapshots import current_snapshot

    members_graph = f"<{BASE}graph/members> .".encode()

    def dumped() -> list[bytes]:
        return sorted(line for line in run(loaded, "dump", "--format", "nq").stdout.splitlines()
                      if not line.endswith(members_graph))

    before, snapshot = dumped(), current_snapshot(loaded)
    result = run(loaded, "optimize")
    assert result.returncode == 0, result.stderr.decode()
    assert "optimized in" in result.stdout.decode()
    assert current_snapshot(loaded) != snapshot  # servers see the compacted store
    assert dumped() == before


def test_load_from_stdin_and_failure_exit_code(tmp_path, example):
    store = tmp_path / "s"
    assert run(store, "load", "-", stdin=json.dumps(example).encode()).returncode == 0
    bad = write_json(tmp_path / "bad.json", {"@schema": "x"})
    result = run(store, "load", str(bad))
    assert result.returncode == 1
    assert f"{bad}: /@schema: unknown @schema" in result.stderr.decode()
    assert run(store, "load", str(tmp_path / "missing.json")).returncode == 1


def test_generate_then_bulk_load_then_export_round_trip(tmp_path):
    corpus, store = tmp_path / "corpus", tmp_path / "s"
    result = run(store, "generate", "--tracks", "300", "--seed", "3", "--out", str(corpus),
                 "--tracks-per-document", "100", "--gzip")
    assert result.returncode == 0, result.stderr
    files = sorted(corpus.glob("*.json.gz"))
    assert len(files) == 3
    assert run(store, "load", "--bulk", str(corpus)).returncode == 0
    stats = json.loads(run(store, "stats").stdout)
    assert stats["current_view"]["Track"] == 300
    original = json.loads(gzip.decompress(files[0].read_bytes()))
    collection = original["collection_info"]["local_id"]
    assert json.loads(run(store, "export", collection).stdout) == original


def test_usage_errors_exit_2(tmp_path):
    assert run(tmp_path / "s", "load").returncode == 2
    assert run(tmp_path / "s", "frobnicate").returncode == 2
    assert run(tmp_path / "s", "query", "@/no/such/file.rq").returncode == 2


def test_validate_exit_codes_and_reports(tmp_path, generated):
    store = tmp_path / "s"
    valid = write_json(tmp_path / "valid.json", generated[0])
    result = run(store, "validate", str(valid))
    assert result.returncode == 0, result.stdout.decode()[-2000:]
    broken = dict(generated[0])
    broken["tracks"] = [dict(generated[0]["tracks"][0])]
    broken["tracks"][0].pop("file_url")
    bad = write_json(tmp_path / "bad.json", broken)
    result = run(store, "validate", str(bad), "--format", "json")
    assert result.returncode == 1
    findings = json.loads(result.stdout)[0]["results"]
    assert any(f["pointer"] == "/tracks/0/file_url" and f["severity"] == "Violation"
               for f in findings)
    report = run(store, "validate", str(bad), "--format", "turtle")
    graph = Graph().parse(data=report.stdout, format="turtle")
    assert len(graph) > 5
    assert run(store, "validate", str(tmp_path / "nothing-here")).returncode in (1, 2)
