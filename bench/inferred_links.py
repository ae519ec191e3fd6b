"""Inferred ancestor links, side by side: where should "tracks under lymphocyte" be materialised?

Options, on the same generated corpus and ontology bundle:

- **a, per-track links**: every track → every ancestor of each of its annotations (the layout
  before this benchmark: `?track ft:cell_type_ancestor L` is one index lookup);
- **b, closure join**: no links at all; track → experiment → sample → annotation → term →
  `ft:descends_from` (the closure graph) at query time;
- **c, links on the carrier**: the entity that carries the annotation (sample, experiment or
  track) → every ancestor (`ft:own_*_ancestor`), reached from the track by its references.

The corpus is loaded once by the CLI of a given commit (`--links-commit`, per-track links;
validation on) and, with `--carrier-src`, once by a source tree that writes carrier links (an
earlier fairtracks-ld's: the current one stores no ancestor links, option b), to time both
loads. The three stores compared are bulk-built copies of the per-track store (the same
triples, minus or plus the links), so their disk figures are alike in compaction. Per option:
quads, disk, then per facet the ancestor-aware first page (100 tracks) and count, and the named
query's shape (every track with its label, ORDER BY), in the store and through a served
`/sparql` (b and c by the current code, which answers the queries as written: they name no track
predicate). Medians of warm runs.

    python bench/inferred_links.py --tracks 10000 [--work DIR] [--carrier-src src]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph as ox
import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))
from layout import cli, disk  # noqa: E402

from fairtracks_ld.mapping.annotations import ANCESTOR_PREDICATES, ANNOTATIONS  # noqa: E402
from fairtracks_ld.store.current_view import LINK_LAYOUT  # noqa: E402

BASE = "http://localhost:8000/"
FT = "https://w3id.org/fairtracks-ld/vocab#"
PREFIX = f"PREFIX ft: <{FT}>\n"
OPTIONS = ("a", "b", "c")
TITLES = {"a": "a: per-track links", "b": "b: closure join", "c": "c: links on the carrier"}
FACETS = ("cell_type", "sample_type", "phenotype", "technique", "target", "file_format")
RUNS = 7
TO = {"sample": "ft:experiment_ref/ft:sample_ref", "experiment": "ft:experiment_ref",
      "track": ""}


def carriers(facet: str) -> dict[str, list[str]]:
    """Carrier (sample / experiment / track) → the annotation paths of a facet it carries."""
    found: dict[str, list[str]] = defaultdict(list)
    for kind in ANCESTOR_PREDICATES[f"{facet}_ancestor"]:
        owner, path = ANNOTATIONS[kind]
        found[owner].append(path)
    return found


def pattern(option: str, facet: str, term: str) -> str:
    """The group pattern binding ?track to each track under `term` for a facet."""
    if option == "a":
        return f"?track ft:{facet}_ancestor {term} ."
    branches = []
    for owner, paths in carriers(facet).items():
        hop = f"{TO[owner]}/" if TO[owner] else ""
        if option == "c":
            branches.append(f"{{ ?track {hop}ft:own_{facet}_ancestor {term} }}")
        else:
            for path in paths:
                branches.append(f"{{ ?t ft:descends_from {term} . ?track {hop}{path}/ft:term_id "
                                "?t }")
    return " UNION ".join(branches)


def queries(option: str, facet: str, term: str) -> dict[str, str]:
    body = pattern(option, facet, term)
    return {
        "first page": f"SELECT ?track WHERE {{ {body} }} LIMIT 100",
        "count": f"SELECT (COUNT(DISTINCT ?track) AS ?n) WHERE {{ {body} }}",
        "named query": f"SELECT DISTINCT ?track ?label WHERE {{ {body} "
                       "OPTIONAL { ?track ft:label_short ?label } } ORDER BY ?track",
    }


def timed(run, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


# ---- building the option stores ------------------------------------------------------------

ANCESTOR_IRIS = {FT + name for name in ANCESTOR_PREDICATES}


def carrier_lines(source: ox.Store, graph: str) -> list[ox.Triple]:
    """Carrier → ancestor links of one version graph (what option c stores)."""
    closure: dict[str, set[str]] = defaultdict(set)
    closure_graph = ox.NamedNode(BASE + "graph/closure")
    triples: set[ox.Triple] = set()
    g = ox.NamedNode(graph)
    for facet in (name.removesuffix("_ancestor") for name in ANCESTOR_PREDICATES):
        own = ox.NamedNode(f"{FT}own_{facet}_ancestor")
        for _, paths in carriers(facet).items():
            for path in paths:
                rows = source.query(f"SELECT ?e ?t WHERE {{ GRAPH {g} {{ ?e {path}/ft:term_id ?t "
                                    "FILTER isIRI(?t) } }", prefixes={"ft": FT})
                for entity, term in ((r[0], r[1]) for r in rows):
                    if term.value not in closure:
                        closure[term.value] = {term.value} | {
                            q.object.value for q in source.quads_for_pattern(
                                term, ox.NamedNode(FT + "descends_from"), None, closure_graph)}
                    triples.update(ox.Triple(entity, own, ox.NamedNode(a))
                                   for a in closure[term.value])
    return list(triples)


def build(option: str, source: ox.Store, target: Path) -> dict:
    """Bulk-build option's store from the per-track one; quads and seconds."""
    started = time.perf_counter()
    store = ox.Store(str(target))
    keep = (lambda q: True) if option == "a" else (
        lambda q: q.predicate.value not in ANCESTOR_IRIS)
    store.bulk_extend(q for q in source if keep(q))
    if option == "c":
        versions = [r[0].value for r in source.query(
            f"SELECT ?g WHERE {{ GRAPH <{BASE}graph/catalog> {{ ?d ft:current_version ?g }} }}",
            prefixes={"ft": FT})]
        for graph in versions:
            links = carrier_lines(source, graph)
            inferred = ox.NamedNode(graph + "/inferred")
            store.bulk_extend([ox.Quad(t.subject, t.predicate, t.object, inferred)
                               for t in links] + [ox.Quad(t.subject, t.predicate, t.object)
                                                  for t in links])
    if option != "a":  # the layout this code expects, so that it serves the store unmigrated
        # (for c, a migration would drop the carrier links it reads)
        store.update(f"""INSERT DATA {{ GRAPH <{BASE}graph/catalog> {{ <{BASE}graph/closure>
            <{FT}link_layout> "{LINK_LAYOUT}" }} }}""")
    store.flush()
    store.optimize()
    named = len(store) - count(store, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
    result = {"build s": round(time.perf_counter() - started, 1), "quads": len(store),
              "named-graph quads": named,
              "link quads": count(store, "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } "
                                  "FILTER(STRENDS(STR(?g), '/inferred')) }")}
    del store
    result["disk bytes"] = disk(target)
    return result


def count(store: ox.Store, sparql: str) -> int:
    return int(next(iter(store.query(sparql)))[0].value)


def pick_terms(store: ox.Store, tracks: int) -> dict[str, str]:
    """Per facet the ancestor whose track count is nearest 15% of the tracks (a broad class,
    like lymphocyte for cell types), read from the per-track links."""
    chosen = {}
    for facet in FACETS:
        rows = store.query(f"SELECT ?c (COUNT(?t) AS ?n) WHERE {{ ?t ft:{facet}_ancestor ?c }} "
                           "GROUP BY ?c", prefixes={"ft": FT})
        counts = {r[0].value: int(r[1].value) for r in rows}
        if facet in ("cell_type", "sample_type"):
            chosen[facet] = "http://purl.obolibrary.org/obo/CL_0000542"  # lymphocyte
        else:
            chosen[facet] = min(counts, key=lambda c: abs(counts[c] - 0.15 * tracks))
    return chosen


# ---- measuring -------------------------------------------------------------------------------


def in_store(path: Path, option: str, terms: dict[str, str]) -> dict:
    store = ox.Store.read_only(str(path))
    found = {}
    for facet, term in terms.items():
        for name, sparql in queries(option, facet, f"<{term}>").items():
            rows = list(store.query(PREFIX + sparql))
            answer = int(rows[0][0].value) if name == "count" else len(rows)
            found[f"{facet} {name}"] = {
                "ms": timed(lambda s=sparql: list(store.query(PREFIX + s)),
                            3 if name == "named query" else RUNS), "answer": answer}
    return found


def served(path: Path, option: str, terms: dict[str, str], src: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from servers import free_port, serve

    with serve(path, free_port(), env={"PYTHONPATH": str(src)}) as base:
        session = requests.Session()
        accept = {"Accept": "application/sparql-results+json"}
        found = {}
        for facet in ("cell_type", "sample_type", "technique"):
            for name, sparql in queries(option, facet, f"<{terms[facet]}>").items():
                if name == "named query":
                    continue

                def ask(sparql=sparql):
                    reply = session.get(base + "sparql", params={"query": PREFIX + sparql},
                                        headers=accept, timeout=300)
                    reply.raise_for_status()
                    return reply

                ask()
                found[f"{facet} {name}"] = {"ms": timed(ask)}
        return found


def load_with(src: Path, store: Path, corpus: Path) -> dict:
    store.parent.mkdir(parents=True, exist_ok=True)
    result = {"ontologies load s": round(cli(src, store, "ontologies", "load"), 1)}
    result["corpus load s (validation on)"] = round(cli(src, store, "load", *map(
        str, sorted(corpus.glob("*.json")))), 1)
    result["disk bytes (store + snapshots, as loaded)"] = disk(store)
    return result


def code_of(commit: str, folder: Path) -> Path:
    if not (folder / "src").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src", "standard",
                                  "context", "shapes", "ontologies"],
                                 check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
    return folder / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--links-commit", default="4639030")
    parser.add_argument("--carrier-src", default=None,
                        help="a source tree writing carrier links: time its load too")
    parser.add_argument("--work", default=None)
    parser.add_argument("--no-serve", action="store_true")
    parser.add_argument("--markdown-only", action="store_true",
                        help="write the .md again from the stored .json")
    args = parser.parse_args()
    if args.markdown_only:
        stored = json.loads((RESULTS / f"inferred-links-{args.tracks}.json").read_text())
        (RESULTS / f"inferred-links-{args.tracks}.md").write_text(markdown(stored))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-links-"))
    corpus = work / "corpus"
    if not corpus.is_dir():
        subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "generate", "--tracks",
                        str(args.tracks), "--out", str(corpus)], check=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    out = RESULTS / f"inferred-links-{args.tracks}.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results.update({"tracks": args.tracks, "links commit": args.links_commit,
                    "loadavg start": [round(x, 1) for x in os.getloadavg()]})
    loaded = work / "loaded-links" / "store"
    links_src = code_of(args.links_commit, work / "links-code")
    loads = {}
    if not loaded.is_dir():
        loads["load a"] = (links_src, loaded)
    if args.carrier_src:  # side by side, so both see the same (shared, noisy) machine
        carrier_store = work / "loaded-carrier" / "store"
        shutil.rmtree(carrier_store.parent, ignore_errors=True)
        loads["load c"] = (Path(args.carrier_src).resolve(), carrier_store)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(load_with, src, store, corpus)
                   for name, (src, store) in loads.items()}
        results.update({name: future.result() for name, future in futures.items()})
    if args.carrier_src:
        shutil.rmtree(carrier_store.parent, ignore_errors=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    source = ox.Store.read_only(str(loaded))
    results["ontology and closure quads"] = count(source, f"""SELECT (COUNT(*) AS ?n) WHERE {{
        GRAPH ?g {{ ?s ?p ?o }} {{ SELECT ?g WHERE {{ GRAPH <{BASE}graph/catalog> {{
          ?g a <{FT}OntologyGraph> }} }} }} UNION {{ BIND(<{BASE}graph/closure> AS ?g) }} }}""")
    terms = pick_terms(source, args.tracks)
    results["terms"] = terms
    for option in OPTIONS:
        target = work / f"option-{option}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(target.with_name(target.name + ".snapshots"), ignore_errors=True)
        entry = build(option, source, target)
        entry["in store"] = in_store(target, option, terms)
        if not args.no_serve:
            entry["served /sparql"] = served(target, option, terms,
                                             links_src if option == "a" else ROOT / "src")
        results[option] = entry
        out.write_text(json.dumps(results, indent=2) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(target.with_name(target.name + ".snapshots"), ignore_errors=True)
    results["loadavg end"] = [round(x, 1) for x in os.getloadavg()]
    out.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"inferred-links-{args.tracks}.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict) -> str:
    tracks = results["tracks"]
    lines = [f"# Inferred ancestor links side by side (`bench/inferred_links.py`), "
             f"{tracks:,} tracks", "",
             f"Per-track store loaded by commit {results['links commit']}; the three option "
             "stores are bulk-built copies of it (same compaction). Load average at start "
             f"{results['loadavg start']}, end {results.get('loadavg end')} (2 cores, shared).",
             "", "| | " + " | ".join(TITLES[o] for o in OPTIONS) + " |",
             "|---|" + "---:|" * len(OPTIONS)]

    def row(label: str, values: list) -> None:
        lines.append(f"| {label} | " + " | ".join(str(v) for v in values) + " |")

    row("quads", [f"{results[o]['quads']:,}" for o in OPTIONS])
    row("link quads (named graphs)", [f"{results[o]['link quads']:,}" for o in OPTIONS])
    fixed = 2 * results["ontology and closure quads"]  # named graphs + the view
    row("data quads per track (all but ontologies and closure, named + view)",
        [round((results[o]["quads"] - fixed) / tracks, 1) for o in OPTIONS])
    row("disk MB (bulk-built copy)", [round(results[o]["disk bytes"] / 1e6, 1) for o in OPTIONS])
    links = {o: results[o]["disk bytes"] - results["b"]["disk bytes"] for o in OPTIONS}
    row("disk of the links: KB per track (option minus b)",
        [round(links[o] / tracks / 1e3, 2) for o in OPTIONS])
    row("links projected at 1M tracks, GB", [round(links[o] / tracks * 1e6 / 1e9, 1)
                                             for o in OPTIONS])
    for key in results["a"]["in store"]:
        row(f"in store: {key} ms (answer)",
            [f"{results[o]['in store'][key]['ms']} ({results[o]['in store'][key]['answer']})"
             for o in OPTIONS])
    if "served /sparql" in results["a"]:
        for key in results["a"]["served /sparql"]:
            row(f"/sparql: {key} ms", [results[o]["served /sparql"][key]["ms"]
                                       for o in OPTIONS])
    lines += ["", "Terms: " + ", ".join(f"{k} <{v}>" for k, v in results["terms"].items()), ""]
    for key in ("load a", "load c"):
        if key in results:
            lines.append(f"- {key}: " + ", ".join(f"{k} {v}" for k, v in results[key].items()))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
