"""Answers kept between processes (fairtracks_ld.memo): the ontology facts, the CURIE prefix
table and the prefixes' IRIs read from a memo are exactly those read from the bundle and the
Bioregistry, a process that finds them there reads neither, and a cache folder that cannot be
written only costs the look-ups."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from fairtracks_ld import memo
from fairtracks_ld.load import load_sources
from fairtracks_ld.mapping import curies
from fairtracks_ld.standard import example_documents
from fairtracks_ld.store import TrackStore, members, records
from fairtracks_ld.validation import registry
from fairtracks_ld.validation.context import bundled_ontologies, ontology_facts, shape_names
from fairtracks_ld.validation.shapes import default_shapes

BASE = "http://localhost:8000/"
CURIES = ["geo:GSE1", "taxonomy:9606", "GEO:GSM2", "insdc.gca:GCF_000001405.39", "nope:1",
          "encode:ENCFF207FGO", "ega.study:EGAS00001000001", "geo:bad id"]


def lines(found: list[str]) -> list[str]:
    return sorted("".join(found).splitlines())


def fresh_bundle():
    """The bundle's source as a new process makes it."""
    bundled_ontologies.cache_clear()
    return bundled_ontologies()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(memo.MEMO_ENV, str(folder))
    yield folder
    bundled_ontologies.cache_clear()
    curies._memo.cache_clear()
    curies._prefix.cache_clear()
    curies.resolve.cache_clear()
    registry.table.cache_clear()


def test_ontology_facts_from_the_memo_are_those_read_from_the_bundle(cache, monkeypatch):
    named, ancestors = shape_names(default_shapes())
    monkeypatch.setenv(memo.MEMO_ENV, "off")
    unkept = fresh_bundle()
    classes = sorted(q.subject.value for q in unkept.store.quads_for_pattern(
        None, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        ox.NamedNode("http://www.w3.org/2002/07/owl#Class"))
        if isinstance(q.subject, ox.NamedNode))[::40]  # ~1,300 terms of every module
    terms = set(classes) | {"http://example.org/not-a-term"}
    expected = {descent: lines(ontology_facts(unkept, terms, named, ancestors, descent))
                for descent in (False, True)}
    monkeypatch.setenv(memo.MEMO_ENV, str(cache))
    first = fresh_bundle()  # reads the bundle, keeps the answers
    for descent in (True, False):
        assert lines(ontology_facts(first, terms, named, ancestors, descent)) == expected[descent]
    assert "store" in first.__dict__
    kept = fresh_bundle()  # as the next process: every answer is in the memo
    for descent in (True, False):
        assert lines(ontology_facts(kept, terms, named, ancestors, descent)) == expected[descent]
    assert "store" not in kept.__dict__  # the bundle was never read
    [file] = cache.glob("ontology-facts-*.json")
    assert set(json.loads(file.read_text())) == {"annotations", "defined_by", "descends_from"}


def test_prefix_table_and_curies_from_the_memo_are_the_registrys(cache):
    read = registry._table()
    assert registry.table() == read  # cold: read from the Bioregistry, then kept
    registry.table.cache_clear()
    assert registry.table() == read  # from the memo
    resolved = [curies.resolve(c) for c in CURIES]
    assert resolved[0].iri and resolved[4].iri is None and resolved[7].iri is None
    script = ("import sys, json; from fairtracks_ld.mapping import curies; "
              "from fairtracks_ld.validation import registry; "
              f"found = [curies.resolve(c) for c in {CURIES!r}]; "
              "table = registry.table(); "
              "print(json.dumps([[[r.iri, r.problem, r.notice] for r in found], "
              "len(table), 'bioregistry' in sys.modules]))")
    answer = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout
    found, entries, imported = json.loads(answer)
    assert found == [[r.iri, r.problem, r.notice] for r in resolved]
    assert entries == len(read)
    assert imported is False  # every answer came from the memo


def test_an_unwritable_cache_costs_only_the_look_ups(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(memo.MEMO_ENV, str(blocked / "cache"))
    kept = memo.Memo("test", memo.fingerprint("x"))
    kept.put("table", "key", [1, 2])
    kept.save()  # cannot be written: nothing raised
    assert kept.get("table", "key") == [1, 2]
    assert memo.Memo("test", memo.fingerprint("x")).get("table", "key") is None
    assert not list(tmp_path.glob("**/test-*"))


def canonical(store: TrackStore) -> list[str]:
    """The store's dataset as its dump gives it (a version stored once as its graph), blank
    node labels, load times, record file names (each write's own) and the layout's members
    graph left out."""
    dumped = io.BytesIO()
    store.dump(dumped, ox.RdfFormat.N_QUADS)
    stamped = re.compile(r'"[0-9T:.+Z-]+"\^\^<http://www.w3.org/2001/XMLSchema#dateTime>')
    layout = f"<{members.graph(store)}> .", f"<{members.STORED_ONCE}>"
    return sorted(re.sub(r"_:\S+", "_:b", line) for line in dumped.getvalue().decode().splitlines()
                  if not stamped.search(line) and f"<{records.RECORD}>" not in line
                  and not line.endswith(layout[0]) and layout[1] not in line)


def test_a_load_with_kept_answers_stores_what_a_load_without_them_stores(cache, monkeypatch,
                                                                           tmp_path):
    sources = [str(path) for path in example_documents().values()]
    outcomes = []
    for setting in ("off", str(cache), str(cache)):  # no memo, memo filled, memo read
        monkeypatch.setenv(memo.MEMO_ENV, setting)
        bundled_ontologies.cache_clear()
        store = TrackStore(tmp_path / f"store-{len(outcomes)}", base=BASE)
        report = load_sources(store, sources, allow_invalid=True)
        findings = [[(f.pointer, f.severity, f.message) for f in loaded.validation.findings]
                    for loaded in report.loaded]
        outcomes.append((canonical(store), findings, len(report.not_loaded)))
    assert outcomes[0][0] and outcomes[0][1]
    assert outcomes[0] == outcomes[1] == outcomes[2]
