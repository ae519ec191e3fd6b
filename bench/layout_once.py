"""Storing the current view once (issue 18's disk goal): a design spike measured side by side.

Today every current triple is stored twice: in its version's named graph (6 indexes) and in the
default graph, the current view (3 indexes). This bench builds, from one product store and with
pyoxigraph's bulk loader, the same data in three layouts and measures disk, bulk-write CPU and
queries on each:

- **a (product)**: the store as `load --bulk` builds it (validation on), measured as it is and
  after `optimize()`; and `a-rebuilt`, the same quads bulk-loaded from its dump into a fresh
  store, so every layout is written by the same means.
- **b (once)**: the default graph (the view) as today; named graphs only for what is not in
  the view (catalog, validation reports, superseded versions) and for the ontologies (a
  constant, kept as today); and, instead of the current versions' graphs, **membership**:
  one quad per distinct subject of a current version, `GRAPH <{base}graph/members>
  { <s> ft:in_document <document> }` (keyed by document, so a new version of a document keeps
  it), plus, per current version, its N-Triples (graph + companion) compressed with zstd on
  disk (`b+files`), the exact record a dump, a removal or a supersede reads. `GRAPH <version>`
  is answered by a rewrite: the subjects of the version's document, their triples in the
  default graph, minus the companion predicates (`GRAPH <version/inferred>`: only those; the
  carrier links `ft:own_*_ancestor` of the earlier layout).
- **c (union)**: the named graphs only, queried with Oxigraph's union default graph.

Queries (in process, pyoxigraph, CPU seconds of this process per query, medians of repeats):
the endpoint's kinds (bench/endpoint.py: lookup by label, ancestor search, facet counts,
DESCRIBE; written as the endpoint rewrites them, sparql/virtual.py: the track predicates as
their paths through the class closure), the ancestor-aware first page under lymphocyte, and
`GRAPH <a current version> { ?s ?p ?o }` (first 100 rows, COUNT), whose answers b's rewrite
must reproduce exactly (checked for every current version and its companion). Then, on b, the
supersede of a 20k-track version by one differing in 10% of its track labels (the superseded
version kept as a named graph), against the same write on a-rebuilt (new version graph +
companion, then the view brought up to date), validation excluded from both.

Companions: this spike was run when every load wrote a companion graph of carrier links per
version (bench/results/layout-once-*.md). A product built by the current code has none (its
loads store no ancestor links): the companion role, the companion part of b's records and of
its rewrite, and the supersede's companion write are then empty (counted 0, checked equal). A
product of the earlier layout (a finished WORK/product-N from then) still has them, handled as
they were.

    python bench/layout_once.py --tracks 20000 [--work /tmp/once-work]

The product store is built by `fairtracks-ld load --bulk` into WORK/product-N unless a
finished one is there (WORK/product-N/DONE; its `/usr/bin/time -v` record is read). Results:
bench/results/layout-once-N.json; `--reuse-product --layouts X` builds more layouts from an
earlier run's product (runs may go side by side); `--reuse-product --extras` (after b) measures
a superseded version loaded from its file (the extras' other part, the ancestor queries by the
closure join compared with the carrier links, is gone: the endpoint writes the closure join
itself, so every layout's queries above are measured that way); `--report 20000,100000` prints
the tables and the 1M projection of bench/results/layout-once-100000.md (whose reading is
written by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import zstandard

from fairtracks_ld.mapping.annotations import ANCESTOR_PREDICATES, facet_of
from fairtracks_ld.sparql import virtual
from fairtracks_ld.store.disk import footprint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BASE = "http://localhost:8000/"
FT = "https://w3id.org/fairtracks-ld/vocab#"
PREFIXES = f"PREFIX ft: <{FT}>\nPREFIX obo: <http://purl.obolibrary.org/obo/>\n"
CATALOG = BASE + "graph/catalog"
CLOSURE = BASE + "graph/closure"
MEMBERS = BASE + "graph/members"
IN_DOCUMENT = FT + "in_document"


def own_predicate(facet: str) -> str:
    """The carrier link of a facet the earlier layout stored (`cell_type`): carrier → every
    ancestor of its annotation, in the companion graph of its version."""
    return f"{FT}own_{facet}_ancestor"


COMPANION = sorted(own_predicate(facet_of(name)) for name in ANCESTOR_PREDICATES)  # G/inferred
CLOSURE_PREDICATES = (FT + "subclass_of", FT + "descends_from", FT + "found_under")
LYMPHOCYTE = "obo:CL_0000542"
REPEATS = 5
SAMPLES = 20


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread: RocksDB's included
    return usage.ru_utime + usage.ru_stime


def measured(run: Callable[[], object]) -> tuple[dict, object]:
    c, w = cpu(), time.perf_counter()
    value = run()
    return {"cpu s": round(cpu() - c, 2), "wall s": round(time.perf_counter() - w, 2)}, value


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---- a: the product's store ----------------------------------------------------------------

def product(work: Path, tracks: int) -> dict:
    """The store `load --bulk` builds (ontologies first), or the finished one already there."""
    folder = work / f"product-{tracks}"
    if not (folder / "DONE").exists():
        subprocess.run([str(ROOT / "bench" / "build_once_product.sh"), str(tracks), str(work)],
                       check=True)
    timing = time_record(folder / "load.time")
    return {"load (validation on), CLI": timing, "disk bytes as loaded (store)":
            footprint(folder / "store"), "disk bytes as loaded (store + snapshots)":
            footprint(folder / "store", folder / "store.snapshots"),
            "uptime": [(folder / f"uptime.{k}").read_text().strip() for k in ("start", "end")]}


def time_record(path: Path) -> dict:
    text = path.read_text()

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", text).group(1).strip()
    return {"cpu s": round(float(field("User time (seconds)")) + float(field(
        "System time (seconds)")), 1), "wall": field("Elapsed (wall clock) time (h:mm:ss or m:ss)"),
            "peak RSS MB": round(int(field("Maximum resident set size (kbytes)")) / 1024)}


def graphs_of(store: ox.Store) -> dict[str, list[str]]:
    """The named graphs by role, from the catalog."""
    current = {r["g"].value: r["doc"].value for r in store.query(
        f"SELECT ?doc ?g WHERE {{ GRAPH <{CATALOG}> {{ ?doc <{FT}current_version> ?g }} }}")}
    ontologies = {r["g"].value for r in store.query(
        f"SELECT ?g WHERE {{ GRAPH <{CATALOG}> {{ ?g a <{FT}OntologyGraph> }} }}")}
    roles: dict[str, list[str]] = defaultdict(list)
    for graph in (g.value for g in store.named_graphs()):
        if graph in current:
            roles["version"].append(graph)
        elif graph.removesuffix("/inferred") in current:
            roles["companion"].append(graph)
        elif graph in ontologies:
            roles["ontology"].append(graph)
        elif graph == CLOSURE:
            roles["closure"].append(graph)
        else:
            roles["other"].append(graph)  # catalog, validation reports, superseded versions
    roles["documents"] = [f"{g} {d}" for g, d in current.items()]
    return roles


def quad_counts(store: ox.Store, roles: dict[str, list[str]]) -> dict[str, int]:
    counts = {"default graph": count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")}
    for role in ("version", "companion", "ontology", "closure", "other"):
        counts[role] = sum(count(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g}> "
                                        "{ ?s ?p ?o } }") for g in roles.get(role, []))
    return counts


def count(store: ox.Store, sparql: str, **options) -> int:
    return int(next(iter(store.query(sparql, **options)))["n"].value)


# ---- building the layouts from dumps -------------------------------------------------------

def dump_graph(store: ox.Store, graph: str | None, out) -> None:
    """One graph as N-Quads lines (the default graph when `graph` is None). Oxigraph dumps one
    graph as triples even in N-Quads, so the graph name is put on each line (a raw line break
    only ends a line in N-Triples)."""
    if graph is None:
        store.dump(out, format=ox.RdfFormat.N_QUADS, from_graph=ox.DefaultGraph())
        return
    data = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph))
    out.write(data.replace(b" .\n", f" <{graph}> .\n".encode()))


def write_layout_file(store: ox.Store, roles: dict[str, list[str]], layout: str,
                      path: Path) -> None:
    """The N-Quads a layout is bulk-loaded from: one file, so blank node labels stay one node
    across graphs (each bulk-loader call gives a file's labels fresh ids)."""
    with path.open("wb") as out:
        if layout == "a-rebuilt":
            store.dump(out, format=ox.RdfFormat.N_QUADS)
            return
        if layout == "b":
            dump_graph(store, None, out)
            for graph in roles.get("ontology", []) + roles.get("other", []):
                dump_graph(store, graph, out)
            out.write(membership(store, roles))
            return
        for role in ("version", "companion", "ontology", "closure", "other"):  # c: union
            for graph in roles.get(role, []):
                dump_graph(store, graph, out)


def membership(store: ox.Store, roles: dict[str, list[str]]) -> bytes:
    """b's membership quads: each distinct subject of a current version, with its document."""
    lines = []
    for entry in roles["documents"]:
        graph, document = entry.split(" ")
        for row in store.query(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"):
            lines.append(f"{row['s']} <{IN_DOCUMENT}> <{document}> <{MEMBERS}> .\n")
    return "".join(lines).encode()


def version_files(store: ox.Store, roles: dict[str, list[str]], folder: Path) -> dict:
    """b's per-version record: graph + companion as N-Triples, zstd level 3, one file each."""
    folder.mkdir(parents=True, exist_ok=True)
    compressor = zstandard.ZstdCompressor(level=3)
    raw = 0
    for entry in roles["documents"]:
        graph = entry.split(" ")[0]
        path = folder / (re.sub(r"[^A-Za-z0-9]+", "_", graph)[-80:] + ".nt.zst")
        with path.open("wb") as handle, compressor.stream_writer(handle) as out:
            for name in (graph, graph + "/inferred"):
                data = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(name))
                raw += len(data)
                out.write(data)
    return {"raw N-Triples bytes": raw, "compressed bytes": footprint(folder)}


def build(path: Path, source: Path) -> dict:
    """A fresh store bulk-loaded from `source`, then compacted; CPU and disk of each step (disk
    measured with the store closed: RocksDB drops obsolete files then)."""
    if path.exists():
        shutil.rmtree(path)
    write, _ = measured(lambda: bulk_into(path, source))
    after_write = footprint(path)
    compaction, _ = measured(lambda: optimize(path))
    return {"bulk write": write, "disk bytes after write": after_write, "optimize": compaction,
            "disk bytes after optimize": footprint(path),
            "source N-Quads bytes": source.stat().st_size}


def bulk_into(path: Path, source: Path) -> None:
    store = ox.Store(str(path))
    store.bulk_load(path=str(source), format=ox.RdfFormat.N_QUADS)
    store.flush()


def optimize(path: Path) -> None:
    ox.Store(str(path)).optimize()


# ---- queries --------------------------------------------------------------------------------

def explicit(query: str) -> str:
    return virtual.rewrite(PREFIXES + query)


def graph_rewrite(version: str, document: str, companion: bool, body: str) -> str:
    """b's answer to `GRAPH <version> { ?s ?p ?o }` (or `<version/inferred>`): the version's
    document's subjects, their triples in the default graph, with (companion) or without the
    companion predicates. The catalog's current_version check keeps a superseded version out."""
    predicates = ", ".join(f"<{p}>" for p in COMPANION)
    test = "IN" if companion else "NOT IN"
    return (f"GRAPH <{CATALOG}> {{ <{document}> <{FT}current_version> <{version}> }} "
            f"GRAPH <{MEMBERS}> {{ ?s <{IN_DOCUMENT}> <{document}> }} {body} "
            f"FILTER(?p {test} ({predicates}))")


def query_mix(store: ox.Store, rng: random.Random) -> dict[str, list[str]]:
    """bench/endpoint.py's kinds, parameters sampled from the data the same way."""
    rows = list(store.query(PREFIXES + "SELECT ?t ?l WHERE { ?t a ft:Track ; ft:label_short ?l }"))
    sample = rng.sample(rows, SAMPLES)
    counts = store.query(explicit("SELECT ?c (COUNT(?t) AS ?n) WHERE { ?t ft:cell_type_ancestor "
                                  "?c } GROUP BY ?c"))
    terms = sorted(r["c"].value for r in counts
                   if len(rows) // 200 <= int(r["n"].value) <= len(rows) // 10)
    terms = rng.sample(terms, min(SAMPLES, len(terms)))
    return {
        "lookup by label": [f"SELECT ?track WHERE {{ ?track ft:label_short {r['l']} }}"
                            for r in sample],
        "ancestor search": [f"SELECT ?track ?label WHERE {{ ?track ft:cell_type_ancestor <{c}> ; "
                            "ft:label_short ?label } ORDER BY ?label LIMIT 50" for c in terms],
        "facet counts": [f"SELECT ?value (COUNT(DISTINCT ?track) AS ?tracks) WHERE {{ ?track "
                         f"ft:cell_type_ancestor <{c}> ; ft:technique_ancestor ?value }} "
                         "GROUP BY ?value ORDER BY DESC(?tracks)" for c in terms],
        "describe track": [f"DESCRIBE <{r['t'].value}>" for r in sample],
        "first page under lymphocyte": [f"SELECT ?track WHERE {{ ?track ft:cell_type_ancestor "
                                        f"{LYMPHOCYTE} }} LIMIT 100"],
    }


def run_query(store: ox.Store, sparql: str, union: bool) -> int:
    result = store.query(sparql, use_default_graph_as_union=union)
    return sum(1 for _ in result) if not isinstance(result, bool) else int(result)


def timed_queries(store: ox.Store, texts: list[str], union: bool) -> dict:
    """Per query: median CPU and wall ms of REPEATS warm runs; then the median over queries."""
    per_cpu, per_wall, answers = [], [], []
    for text in texts:
        answers.append(run_query(store, text, union))  # warm-up
        cpus, walls = [], []
        for _ in range(REPEATS):
            c, w = cpu(), time.perf_counter()
            run_query(store, text, union)
            cpus.append((cpu() - c) * 1000)
            walls.append((time.perf_counter() - w) * 1000)
        per_cpu.append(statistics.median(cpus))
        per_wall.append(statistics.median(walls))
    return {"cpu ms": round(statistics.median(per_cpu), 3),
            "wall ms": round(statistics.median(per_wall), 3), "answers": sum(answers)}


def queries(store: ox.Store, mix: dict[str, list[str]], layout: str,
            roles: dict[str, list[str]]) -> dict:
    union = layout == "c"
    found = {name: timed_queries(store, [explicit(t) for t in texts], union)
             for name, texts in mix.items()}
    graph, document = roles["documents"][0].split(" ")
    if layout == "b":
        page = f"SELECT * WHERE {{ {graph_rewrite(graph, document, False, '?s ?p ?o')} }} LIMIT 100"
        total = ("SELECT (COUNT(*) AS ?n) WHERE { "
                 f"{graph_rewrite(graph, document, False, '?s ?p ?o')} }}")
    else:
        page = f"SELECT * WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }} LIMIT 100"
        total = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    found["GRAPH <version> first 100"] = timed_queries(store, [page], False)
    found["GRAPH <version> COUNT"] = timed_queries(store, [total], False)
    found["GRAPH <version> COUNT"]["answers"] = count(store, total)
    return found


def graph_counts(store: ox.Store, roles: dict[str, list[str]], layout: str) -> dict[str, int]:
    """COUNT of every current version graph and companion: b's rewrite must give a's answers."""
    counts = {}
    for entry in roles["documents"]:
        graph, document = entry.split(" ")
        for companion in (False, True):
            name = graph + ("/inferred" if companion else "")
            if layout == "b":
                sparql = ("SELECT (COUNT(*) AS ?n) WHERE { "
                          f"{graph_rewrite(graph, document, companion, '?s ?p ?o')} }}")
            else:
                sparql = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}"
            counts[name] = count(store, sparql)
    closure = ", ".join(f"<{p}>" for p in CLOSURE_PREDICATES)
    counts["closure"] = count(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o FILTER(?p IN "
                              f"({closure})) }}" if layout == "b" else "SELECT (COUNT(*) AS ?n) "
                              f"WHERE {{ GRAPH <{CLOSURE}> {{ ?s ?p ?o }} }}")
    return counts


# ---- supersede -----------------------------------------------------------------------------

def new_version(lines: list[bytes]) -> list[bytes]:
    """A new version: every tenth track's label_short changed (by its line's hash), the rest
    as it was."""
    label = f"<{FT}label_short> ".encode()
    out = []
    for line in lines:
        if label in line and hash(line) % 10 == 0:
            line = line.replace(b'" .', b' (v2)" .', 1)
        out.append(line)
    return out


def nt_lines(data: bytes) -> list[bytes]:
    return [line + b"\n" for line in data.split(b"\n") if line.strip()]


def delete_lines(store: ox.Store, graph: ox.NamedNode | ox.DefaultGraph,
                 lines: list[bytes], batch: int = 20_000) -> None:
    """Delete these triples from `graph` in transactions of `batch` (as the product's settle)."""
    for start in range(0, len(lines), batch):
        quads = [ox.Quad(t.subject, t.predicate, t.object, graph) for t in ox.parse(
            b"".join(lines[start:start + batch]), format=ox.RdfFormat.N_TRIPLES)]
        for quad in quads:
            store.remove(quad)
        store.flush()


def bulk_lines(store: ox.Store, graph: ox.NamedNode | ox.DefaultGraph, lines: list[bytes]) -> None:
    if lines:
        store.bulk_load(b"".join(lines), format=ox.RdfFormat.N_TRIPLES, to_graph=graph)


def supersede(store: ox.Store, layout: str, roles: dict[str, list[str]], files: Path) -> dict:
    """Replace the first document's current version by a new one (10% of labels changed).
    b: keep the old version as a named graph (from its file), delete from the view the triples
    the new one lacks (unless another current document's subject holds them), add those it
    brings, swap the catalog's current_version, write the new version's file. a-rebuilt: the
    product's write: new version graph (+ companion, earlier layout: empty otherwise), then the
    same view change."""
    graph, document = roles["documents"][0].split(" ")
    new = graph + "-v2"
    steps: dict[str, dict] = {}
    if layout == "b":
        path = next(files.glob(re.sub(r"[^A-Za-z0-9]+", "_", graph)[-80:] + ".nt.zst"))
        steps["read old file"], old_lines = measured(lambda: nt_lines(
            zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())))
    else:
        steps["read old graph"], old_lines = measured(lambda: nt_lines(
            store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph))
            + store.dump(format=ox.RdfFormat.N_TRIPLES,
                         from_graph=ox.NamedNode(graph + "/inferred"))))
    blank = sum(b"_:" in line for line in old_lines)  # unchanged by new_version: they stay
    new_lines = new_version(old_lines)
    steps["diff"], (removed, added) = measured(lambda: (
        sorted(set(old_lines) - set(new_lines)), sorted(set(new_lines) - set(old_lines))))
    if layout == "b":
        steps["keep old version as named graph"], _ = measured(
            lambda: bulk_lines(store, ox.NamedNode(graph), old_lines))
        steps["held elsewhere (subjects of other documents)"], held = measured(
            lambda: held_elsewhere(store, removed, document))
        steps["delete from view"], _ = measured(lambda: delete_lines(
            store, ox.DefaultGraph(), [line for line in removed if line not in held]))
        steps["add to view"], _ = measured(lambda: bulk_lines(store, ox.DefaultGraph(), added))
        steps["catalog"], _ = measured(lambda: make_current(store, document, graph, new))
        steps["write new file"], _ = measured(lambda: (files / "new.nt.zst").write_bytes(
            zstandard.ZstdCompressor(level=3).compress(b"".join(new_lines))))
    else:
        companion = {p.encode() for p in COMPANION}
        own = [line for line in new_lines if not any(p in line for p in companion)]
        inferred = [line for line in new_lines if any(p in line for p in companion)]
        steps["write new version graph"], _ = measured(
            lambda: bulk_lines(store, ox.NamedNode(new), own))
        steps["write new companion"], _ = measured(
            lambda: bulk_lines(store, ox.NamedNode(new + "/inferred"), inferred))
        steps["catalog"], _ = measured(lambda: make_current(store, document, graph, new))
        steps["delete from view"], _ = measured(
            lambda: delete_lines(store, ox.DefaultGraph(), removed))
        steps["add to view"], _ = measured(lambda: bulk_lines(store, ox.DefaultGraph(), added))
    store.flush()
    total_cpu = round(sum(s["cpu s"] for s in steps.values()), 2)
    check = {"old triples": len(old_lines), "blank-node lines": blank, "removed": len(removed),
             "added": len(added)}
    if layout == "b":
        roles_after = {**roles, "documents": [f"{new} {document}"]}
        check["GRAPH <new> + companion COUNT (rewrite)"] = sum(
            graph_counts(store, roles_after, "b")[name] for name in (new, new + "/inferred"))
        check["GRAPH <old> COUNT (named)"] = count(
            store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return {"steps": steps, "cpu s": total_cpu, "check": check}


def make_current(store: ox.Store, document: str, old: str, new: str) -> None:
    current = f"<{document}> <{FT}current_version>"
    store.update(f"DELETE DATA {{ GRAPH <{CATALOG}> {{ {current} <{old}> }} }} ; "
                 f"INSERT DATA {{ GRAPH <{CATALOG}> {{ {current} <{new}> }} }}")


def held_elsewhere(store: ox.Store, removed: list[bytes], document: str) -> set[bytes]:
    """Removed lines whose subject another current document also has: those are kept (the
    exact test, against that document's file, is left to the product)."""
    subjects = sorted({line.split(b" ", 1)[0].decode() for line in removed})
    shared = set()
    for start in range(0, len(subjects), 1000):
        values = " ".join(subjects[start:start + 1000])
        for row in store.query(f"SELECT DISTINCT ?s WHERE {{ VALUES ?s {{ {values} }} GRAPH "
                               f"<{MEMBERS}> {{ ?s <{IN_DOCUMENT}> ?d }} "
                               f"FILTER(?d != <{document}>) }}"):
            shared.add(str(row["s"]).encode())
    return {line for line in removed if line.split(b" ", 1)[0] in shared}


# ---- extras: the levers the report names ---------------------------------------------------

def extras(work: Path, tracks: int) -> dict:
    """A superseded version kept only as its zstd file, loaded into a memory store on demand
    for `GRAPH <it>`."""
    found: dict = {}
    path = sorted((work / f"files-{tracks}").glob("*.nt.zst"))[0]

    def on_demand() -> ox.Store:
        memory = ox.Store()
        data = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
        memory.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
        return memory
    found["superseded version from its file: decompress + memory store"], memory = \
        measured(on_demand)
    found["superseded version from its file: COUNT"], _ = measured(
        lambda: count(memory, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"))
    found["superseded version from its file: triples"] = count(
        memory, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    found["loadavg"] = loadavg()
    return found


# ---- the report ----------------------------------------------------------------------------

MILLION = 1_000_000


def fit(small: dict, large: dict, value: Callable[[dict], float]) -> tuple[float, float]:
    """Per track and at 1M tracks, from the straight line through the two runs."""
    slope = (value(large) - value(small)) / (large["tracks"] - small["tracks"])
    return slope, value(small) + slope * (MILLION - small["tracks"])


def store_bytes(run: dict, layout: str, optimized: bool) -> float:
    """Disk of a layout's store (b+files: with the version files), after the bulk write (the
    product: as `load` left it, snapshots excluded) or after `optimize()`."""
    if layout == "a (product)":
        return run[layout]["disk bytes after optimize (store)" if optimized
                           else "disk bytes as loaded (store)"]
    extra = run["b version files"]["compressed bytes"] if layout == "b+files" else 0
    entry = run[layout.removesuffix("+files")]
    return entry["disk bytes after optimize" if optimized else "disk bytes after write"] + extra


def write_cpu(run: dict, layout: str) -> float:
    if layout == "a (product)":
        return run[layout]["load (validation on), CLI"]["cpu s"]
    return run[layout.removesuffix("+files")]["bulk write"]["cpu s"]


LAYOUTS = ["a (product)", "a-rebuilt", "b", "b+files", "c"]


def report(small: dict, large: dict) -> str:
    n, m = f"{small['tracks']:,}", f"{large['tracks']:,}"
    lines = [f"| layout | disk MB {n} / {m}, after write | after optimize | bytes / track "
             "(slope, write / optimize) | projected GB at 1M (write / optimize) | write CPU s "
             f"{n} / {m} | projected CPU s at 1M |", "|---|---:|---:|---:|---:|---:|---:|"]
    for layout in [la for la in LAYOUTS if la.removesuffix("+files") in large]:
        cells = []
        fits = [fit(small, large, lambda run, la=layout, o=o: store_bytes(run, la, o))
                for o in (False, True)]
        for optimized in (False, True):
            cells.append(" / ".join(f"{store_bytes(run, layout, optimized) / 1e6:,.0f}"
                                    for run in (small, large)))
        _, cpu_million = fit(small, large, lambda run, la=layout: write_cpu(run, la))
        lines.append(f"| {layout} | {cells[0]} | {cells[1]} | {fits[0][0]:,.0f} / "
                     f"{fits[1][0]:,.0f} | {fits[0][1] / 1e9:.1f} / {fits[1][1] / 1e9:.1f} | "
                     f"{write_cpu(small, layout)} / {write_cpu(large, layout)} | "
                     f"{cpu_million:,.0f} |")
    shown = [la for la in LAYOUTS if la != "b+files" and la in large]
    lines += ["", f"Queries at {m} tracks, in process: CPU ms per query (median over the "
              "sampled queries of the median of 5 warm runs; answers summed over them):", "",
              "| query | " + " | ".join(shown) + " |", "|---|" + "---:|" * len(shown)]
    for kind in large["a (product)"]["queries"]:
        cells = [large[la]["queries"][kind] for la in shown]
        lines.append(f"| {kind} | " + " | ".join(f"{c['cpu ms']} ({c['answers']})"
                                                   for c in cells) + " |")
    lines += ["", "Supersede of a 20k-track version (10% of its labels changed), CPU s by step:",
              ""]
    for layout in ("a-rebuilt", "b"):
        for run in (run for run in (small, large) if layout in run):
            entry = run[layout]["supersede 20k-track version"]
            steps = ", ".join(f"{k} {v['cpu s']}" for k, v in entry["steps"].items())
            lines.append(f"- {layout}, {run['tracks']:,} tracks: **{entry['cpu s']} CPU s** "
                         f"({steps}); {entry['check']}")
    return "\n".join(lines) + "\n"


# ---- the run --------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/once-work"))
    parser.add_argument("--layouts", default="a-rebuilt,b,c")
    parser.add_argument("--reuse-product", action="store_true", help="take the product's "
                        "figures and version files from an earlier run (its json) and only "
                        "build --layouts: runs building different layouts may go side by side")
    parser.add_argument("--extras", action="store_true", help="with --reuse-product, after b: "
                        "a superseded version from its file")
    parser.add_argument("--report", metavar="SMALL,LARGE", help="only write the markdown tables "
                        "and the 1M projection (linear fit) from two runs' json")
    args = parser.parse_args()
    if args.report:
        small, large = (json.loads((RESULTS / f"layout-once-{n}.json").read_text())
                        for n in args.report.split(","))
        print(report(small, large))  # the tables of layout-once-N.md, its prose written by hand
        return
    work: Path = args.work
    out = RESULTS / f"layout-once-{args.tracks}.json"
    reuse = args.reuse_product and out.exists()
    results: dict = json.loads(out.read_text()) if reuse else {
        "tracks": args.tracks, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip(),
        "loadavg start": loadavg(), "pyoxigraph": ox.__version__}
    mine: set[str] = set()

    def save() -> None:  # runs measuring other layouts may write the same file meanwhile
        merged = json.loads(out.read_text()) if out.exists() else {}
        merged.update(results if not reuse else {k: results[k] for k in mine})
        out.write_text(json.dumps(merged, indent=2) + "\n")

    store_path = work / f"product-{args.tracks}" / "store"
    files = work / f"files-{args.tracks}"
    if not reuse:
        results["a (product)"] = product(work, args.tracks)
        results["a (product)"]["optimize"], _ = measured(lambda: optimize(store_path))
        results["a (product)"]["disk bytes after optimize (store)"] = footprint(store_path)
    store = ox.Store.read_only(str(store_path))  # read-only: runs may share it
    roles = graphs_of(store)
    mix = query_mix(store, random.Random(1))
    expected = graph_counts(store, roles, "a")
    if args.extras:
        results["extras"] = extras(work, args.tracks)
        mine.add("extras")
        save()
        return
    if not reuse:
        results["graphs"] = {k: len(v) for k, v in roles.items()}
        results["quads by role"] = quad_counts(store, roles)
        results["a (product)"]["queries"] = queries(store, mix, "a", roles)
        results["a (product)"]["loadavg"] = loadavg()
        save()
        if files.exists():
            shutil.rmtree(files)
        results["b version files"], sizes = measured(lambda: version_files(store, roles, files))
        results["b version files"].update(sizes)
        save()
    for layout in args.layouts.split(","):
        source = work / f"{layout}-{args.tracks}.nq"
        entry: dict = {"loadavg start": loadavg()}
        entry["dump"], _ = measured(lambda s=source, la=layout: write_layout_file(
            store, roles, la, s))
        path = work / f"{layout}-{args.tracks}"
        entry.update(build(path, source))
        source.unlink()
        built = ox.Store(str(path))
        entry["queries"] = queries(built, mix, layout, roles)
        if layout != "c":
            counts = graph_counts(built, roles, layout)
            entry["GRAPH counts equal to a's"] = counts == expected
            if counts != expected:
                entry["GRAPH counts"] = {"expected": expected, "found": counts}
            entry["supersede 20k-track version"] = supersede(built, layout, roles, files)
        built = None  # closed
        if layout != "c":
            optimize(path)
            entry["disk bytes after supersede + optimize"] = footprint(path)
        entry["loadavg end"] = loadavg()
        results[layout] = entry
        mine.add(layout)
        save()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
