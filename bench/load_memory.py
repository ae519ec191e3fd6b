"""Load memory benchmark: peak RSS and time of loading ONE big document, vs Oxigraph's ceiling.

For each size, a single generated document of that many tracks (`fairtracks-ld generate
--tracks N --tracks-per-document N`) is loaded into a copy of a store that already holds the
bundled ontologies (as `make run` builds it), each measurement in a fresh process whose peak RSS
is read from the kernel (`os.wait4` rusage of the child: the loader is one process):

- `load --bulk`: fairtracks-ld end to end (read, map, bulk write, validate the written graph,
  validation report and records, catalog), as the CLI runs it;
- `load --bulk, no validation`: the same without the shapes (`load_sources(validate=False)`);
- ceiling: Oxigraph's chunked `bulk_extend` of exactly the quads the load writes (the version
  graph, and its companion in a store of the earlier layout that stored ancestor links, dumped
  from the first load's store as N-Quads, parsed by Oxigraph and handed over in calls of 500k
  quads: the same memory bound);
- `main` (optional, --baseline DIR): the same load with another checkout's sources, e.g. the
  whole-document loader before streaming.

At 1M tracks the ceiling's N-Quads (~25 GB) do not fit beside the stores on this machine:
`--ceiling-from STORE` writes them instead from the records of the biggest current version of a
store the load left (the graph's N-Triples, and its companion's if any: exactly what it wrote), zstd
compressed (`doc-N.nq.zst`), which the ceiling decompresses as it reads (in its own process: a
few per cent of its CPU, counted against it). A run measuring only some contenders keeps the
others' earlier figures for that size.

With --until-merged every contender, after its last write and with its store still open, waits
until RocksDB's compactions have gone quiet (store.compaction.wait_for_merges, what `fairtracks-ld
load` does before it publishes a big write), and its seconds and CPU include that work: both end
in the same state. Without it a process's figures stop where it closes the store, which abandons
the compactions still running, so work done after the last write (the load's search segment and
API export) pays for merges beside it that the ceiling, exiting at once, never pays. Its results
go to load-memory-merged.json/.md.

Usage: python bench/load_memory.py [--sizes 10000 100000] [--repeat 1] [--baseline /work/main/src]
Writes bench/results/load-memory.json and bench/results/load-memory.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from itertools import islice
from pathlib import Path

from proctree import tree_stats

HERE = Path(__file__).resolve().parent
# Measured: the loads themselves; the background compaction a big load starts (store/optimizer.py)
# would run beside what is measured next.
os.environ.setdefault("FAIRTRACKS_LD_OPTIMIZE_SHARE", "0")
SRC = HERE.parent / "src"
WORK = HERE / "work" / "load-memory"
RESULTS = HERE / "results"
BASE = "http://localhost:8000/"
CHUNK = 500_000
TIMELINE_STEP = 300  # seconds between the timeline rows shown in the report
PUBLISH = "LOAD_MEMORY_PUBLISH"  # set: the measured load also publishes a snapshot, as the CLI
MERGED = "LOAD_MEMORY_UNTIL_MERGED"  # set: every contender waits for its merges (--until-merged)
NAME = "load-memory"  # the results' file name (load-memory-merged with --until-merged)


def cli(*args: str, src: Path = SRC) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", *args], env=env,
                          check=True, capture_output=True, text=True)


def document(size: int) -> Path:
    """A single generated document of `size` tracks (made once)."""
    folder = WORK / f"doc-{size}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        cli("generate", "--tracks", str(size), "--tracks-per-document", str(size), "--seed", "1",
            "--out", str(folder))
        (folder / ".complete").touch()
    return next(folder.glob("*.json"))


TEMPLATE_LAYOUT = "closure"  # written in template.complete: the layout the template was made in


def template() -> Path:
    """A store holding the bundled ontologies and their closure (made once). One made by an
    earlier layout (its marker empty: its closure lacks ft:found_under and its catalog asks for
    the migration that drops stored ancestor links, which a write through the CLI would run
    inside the measured load) is made again."""
    store = WORK / "template"
    marker = WORK / "template.complete"
    if not marker.exists() or marker.read_text().strip() != TEMPLATE_LAYOUT:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(store.with_name(store.name + ".snapshots"), ignore_errors=True)
        cli("--store", str(store), "--base-iri", BASE, "ontologies", "load")
        marker.write_text(TEMPLATE_LAYOUT + "\n")
    return store


def ceiling_input(size: int, store_dir: Path) -> None:
    """The quads a load wrote into `store_dir`, as N-Quads: the version graph (and its
    companion, written by loads of the earlier layout only: nothing for a current store), each
    also in the default graph, where the load adds them to the current view (before 2026-12-06
    the view's copy was left out, so the ceiling wrote half the quads); for a version stored
    once (since 2026-12-07), its triples in the default graph and its member quads."""
    import pyoxigraph as ox

    from fairtracks_ld.store import TrackStore, members

    nquads = WORK / f"doc-{size}.nq"
    opened = TrackStore(str(store_dir), base=BASE, read_only=True)
    store = opened.ox
    catalog = f"{BASE}graph/catalog"
    current = "https://w3id.org/fairtracks-ld/vocab#current_version"
    graphs = [row["g"].value for row in store.query(
        f"SELECT ?g WHERE {{ GRAPH <{catalog}> {{ ?doc <{current}> ?g }} }}")]
    once = members.stored_once(opened)
    partial = nquads.with_suffix(".partial")
    with partial.open("wb") as out:
        for graph in graphs:
            if graph in once:
                ox.serialize((ox.Quad(q.subject, q.predicate, q.object)
                              for q in opened.graph_quads(graph)), out,
                             format=ox.RdfFormat.N_QUADS)
                ox.serialize(store.quads_for_pattern(None, None, ox.NamedNode(graph),
                                                     ox.NamedNode(members.graph(opened))),
                             out, format=ox.RdfFormat.N_QUADS)
                continue
            for name in (graph, graph + "/inferred"):
                ox.serialize(store.quads_for_pattern(None, None, None, ox.NamedNode(name)), out,
                             format=ox.RdfFormat.N_QUADS)
                ox.serialize((ox.Quad(q.subject, q.predicate, q.object) for q in
                              store.quads_for_pattern(None, None, None, ox.NamedNode(name))),
                             out, format=ox.RdfFormat.N_QUADS)
    partial.rename(nquads)


def ceiling_input_from_records(size: int, store_dir: Path) -> Path:
    """`doc-N.nq.zst`: the quads the load of the biggest current version of `store_dir` wrote
    (its graph, and companion if it has one, each also in the default graph, as
    `ceiling_input`; stored once: its lines in the default graph and its member quads), from
    their records, without the 25 GB of N-Quads a 1M-track document makes on disk."""
    import zstandard

    from fairtracks_ld.store import TrackStore, members, records
    from fairtracks_ld.store.records import as_nquads, blocks

    store = TrackStore(str(store_dir), base=BASE)
    current = [v for v in store.versions() if v.current]
    biggest = max(current, key=lambda v: records.path_of(store, v.graph).stat().st_size)
    target = WORK / f"doc-{size}.nq.zst"
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as raw, zstandard.ZstdCompressor(level=3).stream_writer(raw) as out:
        if biggest.graph in members.stored_once(store):
            lines = members.Lines(store, biggest.graph, biggest.collection)
            path = records.path_of(store, biggest.graph)
            assert path is not None, f"no record of {biggest.graph}"
            for block in blocks(path):  # what the load wrote: the view's lines, the members
                out.write(block)
                out.write(lines.of(block))
            partial.rename(target)
            return target
        for graph in (biggest.graph, biggest.graph + "/inferred"):
            path = records.path_of(store, graph)
            if path is None and graph != biggest.graph:
                continue  # no companion: a store of the current layout
            assert path is not None, f"no record of {graph}"
            for block in blocks(path):
                out.write(as_nquads(block, graph))
                out.write(block)  # N-Triples lines: N-Quads of the default graph
    partial.rename(target)
    return target


def fresh_store(name: str) -> Path:
    """A copy of the template named `name`, with no snapshots left by an earlier run (`stats`
    would count them)."""
    store_dir = WORK / f"store-{name}"
    shutil.rmtree(store_dir, ignore_errors=True)
    shutil.rmtree(WORK / f"store-{name}.snapshots", ignore_errors=True)
    shutil.copytree(template(), store_dir)
    return store_dir


# ---- measured runs (each in its own process) ---------------------------------------------------


def run_load(path: str, store_dir: str, validate: bool) -> dict:
    from fairtracks_ld.load import load_sources
    from fairtracks_ld.mapping import curies
    from fairtracks_ld.store import TrackStore

    try:  # as `fairtracks-ld load` does (sources older than fairtracks_ld.heap have none)
        from fairtracks_ld import heap
    except ImportError:
        pass
    else:
        heap.limit_arenas()
    curies.resolve("geo:GSE1")  # registry start-up is a one-off cost, not ingest
    store = TrackStore(store_dir, base=BASE)
    before = len(store.ox)
    start = time.perf_counter()
    report = load_sources(store, [path], bulk=True, validate=validate)
    seconds = time.perf_counter() - start
    assert report.ok, [str(e) for e in report.failed]
    result = {"seconds": seconds}
    if os.environ.get(PUBLISH):  # as `fairtracks-ld load` does before it returns
        from fairtracks_ld.store.snapshots import publish

        publish(store)
        result["publish_seconds"] = time.perf_counter() - start - seconds
        result["seconds"] = time.perf_counter() - start
        print("checkpoint published", file=sys.stderr, flush=True)
    result["quads"] = len(store.ox) - before
    return until_merged(result, store_dir)


def run_ceiling(nquads: str, store_dir: str) -> dict:
    import pyoxigraph as ox

    store = ox.Store(store_dir)
    before = len(store)
    start = time.perf_counter()
    with open(nquads, "rb") as handle:
        if nquads.endswith(".zst"):
            import zstandard

            handle = zstandard.ZstdDecompressor().stream_reader(handle)
        quads = ox.parse(handle, format=ox.RdfFormat.N_QUADS)
        while chunk := list(islice(quads, CHUNK)):
            store.bulk_extend(chunk)
    store.flush()
    return until_merged({"seconds": time.perf_counter() - start, "quads": len(store) - before},
                        store_dir)


def until_merged(result: dict, store_dir: str) -> dict:
    """With MERGED set, wait (the store open in this process) until RocksDB's compactions have
    gone quiet, and count that time in the result's seconds, less the quiet period that ends
    the wait."""
    if not os.environ.get(MERGED):
        return result
    from fairtracks_ld.store import compaction

    waited = compaction.wait_for_merges(Path(store_dir), None)
    merge = max(0.0, waited.seconds - (compaction.QUIET if waited.quiet else 0.0))
    return {**result, "seconds": result["seconds"] + merge, "merge_seconds": round(merge, 2),
            "merge_quiet": waited.quiet, "merge_cpu_seconds": waited.compaction_cpu_seconds}


def child(kind: str, target: str, store_dir: str) -> None:
    """Entry point of a measured process: prints one JSON line."""
    if kind == "ceiling":
        result = run_ceiling(target, store_dir)
    else:
        result = run_load(target, store_dir, validate=kind != "no-validation")
    print(json.dumps(result))


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc."""
    pages = sum(int(fields[21]) for fields in tree_stats(pid).values())
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Sampler:
    """RSS of a process tree every `interval` seconds, and the loader's stages as it passes
    them (`checkpoint STAGE` lines on its stderr, printed while FAIRTRACKS_LD_PAUSE_AT is set)."""

    def __init__(self, process: subprocess.Popen, interval: float = 0.5,
                 document: Path | None = None, tmpdir: Path | None = None,
                 store_dir: Path | None = None) -> None:
        self.process, self.interval, self.document = process, interval, document
        self.tmpdir, self.store_dir = tmpdir, store_dir
        self.start = time.monotonic()
        self.series: list[tuple[float, float]] = []
        self.disk: list[tuple[float, float, float]] = []  # (time, temp MB, free GB), every 5 s
        self.tables: list[tuple[float, int, float]] = []  # (time, store's .sst files, GB), 5 s
        self.read: list[tuple[float, float]] = []  # (time, fraction of the document read)
        self.stages: list[tuple[float, str]] = []
        self.errors: list[str] = []  # the rest of its stderr (the last lines)
        self.finished = threading.Event()
        self.threads = [threading.Thread(target=self._sample, daemon=True),
                        threading.Thread(target=self._stages, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _sample(self) -> None:
        while not self.finished.is_set():  # set once the child is reaped (never poll(): it reaps)
            now = round(time.monotonic() - self.start, 1)
            self.series.append((now, round(tree_rss_mb(self.process.pid), 1)))
            if self.tmpdir is not None and len(self.series) % 10 == 1:
                self.disk.append((now, round(temp_mb(self.process.pid, self.tmpdir), 1),
                                  round(shutil.disk_usage(WORK).free / 2**30, 2)))
            if self.store_dir is not None and len(self.series) % 10 == 1:
                self.tables.append((now, *table_files(self.store_dir)))
            if self.document is not None:
                fraction = read_fraction(self.process.pid, self.document)
                if fraction is not None:
                    self.read.append((now, fraction))
            time.sleep(self.interval)

    def _stages(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.startswith("checkpoint "):
                self.stages.append((round(time.monotonic() - self.start, 1), line.split()[1]))
            else:
                self.errors = [*self.errors[-40:], line]

    def timeline(self, every: float = 30.0) -> list[dict[str, float | str]]:
        """RSS over time, one sample per `every` seconds: the stage last passed, the fraction
        of the document read so far (from the file offset), the RSS and its peak so far."""
        rows: list[dict[str, float | str]] = []
        peak, due = 0.0, 0.0
        for t, rss in self.series:
            peak = max(peak, rss)
            if t >= due:
                passed = [stage for at, stage in self.stages if at <= t]
                read = [f for at, f in self.read if at <= t]
                rows.append({"t": t, "stage": passed[-1] if passed else "start",
                             "chunks": passed.count("bulk-write"),
                             "read": round(read[-1], 4) if read else 0.0,
                             "rss_mb": rss, "peak_mb": peak})
                due = t + every
        return rows

    def phases(self) -> dict[str, dict[str, float]]:
        """Peak RSS and seconds per phase: write (to the last chunk), then validation (to
        `validated`) and validation report and records (to `ingested`), the catalog update (to
        `view-pending`), the view settle (to `catalog-updated`) and the rest (term checks,
        flush)."""
        def first(name: str) -> float | None:
            return next((t for t, stage in self.stages if stage == name), None)

        writes = [t for t, stage in self.stages if stage == "bulk-write"]
        ingested, pending, settled = first("ingested"), first("view-pending"), \
            first("catalog-updated")
        if not writes:
            return {}
        bounds = [("write", 0.0, writes[-1])]
        validated = first("validated")  # a checkpoint of the loader since 2026-12-05 21:40
        # `merging`: waiting until RocksDB takes ordinary writes again (since 2026-12-05 22:00),
        # before validation and before the catalog update
        merging = [t for t, stage in self.stages if stage == "merging"]
        waited = next((t for t in reversed(merging) if ingested is not None and t <= ingested
                       and (validated is None or t >= validated)), ingested)
        if ingested is not None and validated is not None:
            before = next((t for t in merging if t <= validated), None)
            if before is not None:
                bounds += [("merge wait before validation", writes[-1], before)]
            bounds += [("validate", before or writes[-1], validated),
                       ("report + records", validated, waited)]
            if waited != ingested:
                bounds += [("merge wait before the catalog update", waited, ingested)]
        elif ingested is not None:
            bounds += [("validate + report", writes[-1], ingested)]
        if ingested is not None and pending is not None and settled is not None:
            bounds += [("catalog update", ingested, pending),
                       ("view settle", pending, settled),
                       ("term checks + flush", settled, math.inf)]
        elif ingested is not None:
            bounds += [("catalog + flush", ingested, math.inf)]
        return {name: {"peak_rss_mb": max((r for t, r in self.series if low <= t < high),
                                          default=0.0),
                       "seconds": round(min(high, self.series[-1][0]) - low, 1)}
                for name, low, high in bounds}


def table_files(store_dir: Path) -> tuple[int, float]:
    """The store's RocksDB table files: how many, and their GB (what compaction works on)."""
    sizes = []
    for path in store_dir.glob("*.sst"):
        try:
            sizes.append(path.stat().st_size)
        except OSError:  # compacted away meanwhile
            continue
    return len(sizes), round(sum(sizes) / 2**30, 2)


def temp_mb(root: int, tmpdir: Path) -> float:
    """Temporary space a process tree holds in `tmpdir`: the files there plus those it has
    unlinked but keeps open (`tempfile.TemporaryFile`), from /proc."""
    sizes: dict[tuple[int, int], int] = {}
    for path in tmpdir.rglob("*"):
        try:
            info = path.stat()
        except OSError:
            continue
        if path.is_file():
            sizes[(info.st_dev, info.st_ino)] = info.st_size
    for pid in tree_stats(root):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd).startswith(str(tmpdir)):
                    info = fd.stat()
                    sizes[(info.st_dev, info.st_ino)] = info.st_size
            except OSError:
                continue
    return sum(sizes.values()) / 2**20


def read_fraction(pid: int, document: Path) -> float | None:
    """How far a process has read `document`: its file offset (from /proc) over its size."""
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            if os.readlink(fd) == str(document):
                pos = int((Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().split()[1])
                return pos / document.stat().st_size
    except (OSError, ValueError, IndexError):
        return None
    return None


def measure(kind: str, target: Path, size: int, src: Path = SRC, keep: bool = False,
            budget: float | None = None, min_free_gb: float = 0.0,
            publish: bool = False, merged: bool = False) -> dict:
    """One measured run; with a `budget` (seconds) a run still going then is stopped and
    reported as incomplete, with its RSS over time; so is one that leaves less than
    `min_free_gb` free on the disk. Temporary files go to a folder of their own (TMPDIR), whose
    use is sampled."""
    store_dir = fresh_store(f"{kind}-{size}")  # runs of other sizes may go on alongside
    tmpdir = WORK / f"tmp-{kind}-{size}"
    shutil.rmtree(tmpdir, ignore_errors=True)
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(src), "FAIRTRACKS_LD_PAUSE_AT": "never",
           "TMPDIR": str(tmpdir), **({PUBLISH: "1"} if publish else {}),
           **({MERGED: "1"} if merged else {})}
    load_before = os.getloadavg()
    process = subprocess.Popen([sys.executable, __file__, "--child", kind, str(target),
                                str(store_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, text=True)
    sampler = Sampler(process, document=target.resolve(), tmpdir=tmpdir, store_dir=store_dir)
    stopped = None
    deadline = time.monotonic() + budget if budget is not None else math.inf
    while not (reaped := os.wait4(process.pid, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            stopped = f"budget of {budget:.0f} s"
        elif shutil.disk_usage(WORK).free < min_free_gb * 2**30:
            stopped = f"free disk below {min_free_gb} GB"
        if stopped:
            process.kill()
            reaped = os.wait4(process.pid, 0)
            break
        time.sleep(0.5)
    _, status, usage = reaped
    sampler.finished.set()
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stdout is not None
    output = process.stdout.read()
    for thread in sampler.threads:
        thread.join()
    shutil.rmtree(tmpdir, ignore_errors=True)
    if not keep or stopped:
        shutil.rmtree(store_dir, ignore_errors=True)
        shutil.rmtree(store_dir.with_name(store_dir.name + ".snapshots"), ignore_errors=True)
    peak = max(usage.ru_maxrss / 1024,  # kilobytes on Linux
               max((r for _, r in sampler.series), default=0.0))
    common = {"peak_rss_mb": peak, "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "peak_temp_mb": max((t for _, t, _ in sampler.disk), default=0.0),
              "min_free_gb": min((f for _, _, f in sampler.disk), default=None),
              "phases": sampler.phases(), "timeline": sampler.timeline(),
              "stages": [(t, stage) for t, stage in sampler.stages if stage != "bulk-write"],
              "table_files": sampler.tables}
    if stopped:
        return {"complete": False, "stopped": stopped, "seconds": sampler.series[-1][0],
                **common}
    if process.returncode != 0:
        raise RuntimeError(f"{kind} failed with exit code {process.returncode}: "
                           + "".join(sampler.errors))
    result = json.loads(output.strip().splitlines()[-1])
    result.update(common)
    if keep:
        result["store"] = str(store_dir)
        result["stats"] = json.loads(cli("--store", str(store_dir), "--base-iri", BASE,
                                         "stats", src=src).stdout)
    return result


# ---- the benchmark ----------------------------------------------------------------------------


KINDS = {"load": "load --bulk", "no-validation": "load --bulk, no validation",
         "ceiling": "ceiling: chunked bulk_extend", "baseline": "load --bulk, baseline sources"}


def bench(sizes: list[int], repeat: int, baseline: Path | None, kinds: list[str],
          budget: float | None = None, keep_store: bool = False, min_free_gb: float = 0.0,
          publish: bool = False, merged: bool = False) -> dict:
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load_average": os.getloadavg()},
        "repeat": repeat, "chunk_quads": CHUNK, "baseline": str(baseline) if baseline else None,
        "sizes": [],
    }
    previous = RESULTS / f"{NAME}.json"
    earlier: dict[int, dict] = {}  # the sizes measured now, as measured before
    if previous.exists():  # other sizes measured before, and the notes, are kept
        kept = json.loads(previous.read_text())
        results["sizes"] = [row for row in kept["sizes"] if row["tracks"] not in sizes]
        results["notes"] = kept.get("notes", [])
        earlier = {row["tracks"]: row for row in kept["sizes"] if row["tracks"] in sizes}
    for size in sizes:
        path = None if kinds == ["ceiling"] else document(size)
        nquads = WORK / f"doc-{size}.nq"
        if not nquads.exists() and (WORK / f"doc-{size}.nq.zst").exists():
            nquads = WORK / f"doc-{size}.nq.zst"
        runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for _ in range(repeat):  # interleaved, so a busy moment hits every contender alike
            for kind in kinds:
                target = nquads if kind == "ceiling" else path
                src = baseline if kind == "baseline" and baseline else SRC
                first = kind == "load" and "ceiling" in kinds and not nquads.exists()
                runs[kind].append(measure(kind, target, size, src,
                                          keep=first or (keep_store and kind == "load"),
                                          budget=budget, min_free_gb=min_free_gb,
                                          publish=publish, merged=merged))
                print(size, kind, runs[kind][-1], file=sys.stderr, flush=True)
                if first and runs[kind][-1].get("complete", True):
                    ceiling_input(size, WORK / f"store-load-{size}")
                    if not keep_store:
                        shutil.rmtree(WORK / f"store-load-{size}")
        before = earlier.get(size, {})
        row = {"tracks": size, "contenders": dict(before.get("contenders", {})),
               "json_mb": round(path.stat().st_size / 2**20, 1) if path else before["json_mb"]}
        for kind, measured in runs.items():
            row["contenders"][kind] = {
                "runs": measured,
                "median_seconds": statistics.median(r["seconds"] for r in measured),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in measured),
                "quads": measured[0].get("quads"),
                "complete": all(r.get("complete", True) for r in measured),
            }
        results["sizes"].append(row)
        write(results, sizes)
    return results


def median_cpu(contender: dict) -> float:
    """The median CPU seconds of a contender's runs (steadier than seconds on a shared
    machine)."""
    return statistics.median(r["cpu_seconds"] for r in contender["runs"] if "cpu_seconds" in r)


def write(results: dict, measured: Iterable[int] = ()) -> None:
    """Write the results: the rows of the sizes this run `measured`, and for every other size
    the row the file holds now (another run alongside may have written it since this one
    started)."""
    RESULTS.mkdir(exist_ok=True)
    previous = RESULTS / f"{NAME}.json"
    if previous.exists():
        mine = set(measured)
        kept = json.loads(previous.read_text())["sizes"]
        results["sizes"] = [row for row in results["sizes"] if row["tracks"] in mine] + [
            row for row in kept if row["tracks"] not in mine]
    results["sizes"].sort(key=lambda r: r["tracks"])
    (RESULTS / f"{NAME}.json").write_text(json.dumps(results, indent=2) + "\n")
    machine = results["machine"]
    lines = [
        "# Load memory benchmark (`bench/load_memory.py`)", "",
        f"Machine: {machine['cpus']} CPUs shared with other jobs (load average at start "
        f"{machine['load_average'][0]:.1f}), Python {machine['python']}. One generated document "
        "per size, loaded into a copy of a store holding the bundled ontologies; each "
        "measurement in a fresh process, peak RSS the larger of the kernel's (rusage of the "
        "child) and the process tree's sampled from /proc every 0.5 s. "
        f"Medians of {results['repeat']} interleaved run(s). The ceiling is Oxigraph's "
        f"`bulk_extend` of the same quads in calls of {results['chunk_quads']:,} quads."
        + (" Every contender, after its last write, waited until RocksDB's compactions had gone "
           "quiet (as `fairtracks-ld load` does before it publishes a big write); its seconds "
           "and CPU include them." if NAME.endswith("merged") else ""), "",
        "| tracks | JSON MB | contender | quads written | median s | quads/s | peak RSS MB |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in results["sizes"]:
        for kind, c in row["contenders"].items():
            if not c.get("complete", True):
                lines.append(f"| {row['tracks']:,} | {row['json_mb']} | {KINDS[kind]} | "
                             f"stopped after {c['median_seconds']:.0f} s (see the timeline) "
                             f"| - | - | {c['peak_rss_mb']:,.0f} so far |")
                continue
            lines.append(f"| {row['tracks']:,} | {row['json_mb']} | {KINDS[kind]} | "
                         f"{c['quads']:,} | {c['median_seconds']:.1f} | "
                         f"{c['quads'] / c['median_seconds']:,.0f} | {c['peak_rss_mb']:,.0f} |")
    lines += ["", "| tracks | load / ceiling (speed) | no validation / ceiling | "
              "load / ceiling (CPU) | no validation / ceiling (CPU) | load peak RSS / JSON size |",
              "|---:|---:|---:|---:|---:|---:|"]
    for row in results["sizes"]:
        c = row["contenders"]
        ceiling = c["ceiling"]["median_seconds"] if "ceiling" in c else None
        if not c.get("load", {}).get("complete", True):
            continue

        def ratio(kind: str, c: dict = c, ceiling: float | None = ceiling) -> str:
            return f"{ceiling / c[kind]['median_seconds']:.2f}x" if ceiling and kind in c else "-"

        def cpu_ratio(kind: str, c: dict = c) -> str:
            if "ceiling" not in c or kind not in c or "cpu_seconds" not in c[kind]["runs"][-1]:
                return "-"
            return f"{median_cpu(c['ceiling']) / median_cpu(c[kind]):.2f}x"

        rss = (f"{c['load']['peak_rss_mb'] / row['json_mb']:.1f}x" if "load" in c else "-")
        lines.append(f"| {row['tracks']:,} | {ratio('load')} | {ratio('no-validation')} | "
                     f"{cpu_ratio('load')} | {cpu_ratio('no-validation')} | {rss} |")
    detailed = [(row["tracks"], KINDS[kind], c["runs"][-1]) for row in results["sizes"]
                for kind, c in row["contenders"].items() if "cpu_seconds" in c["runs"][-1]]
    if detailed:
        lines += ["", "Run details, last run (CPU: user + system seconds of the measured process "
                  "tree; publish: the snapshot `fairtracks-ld load` publishes before it returns, "
                  "included in the seconds above when measured; temp: the largest temporary "
                  "space held in TMPDIR; load average: 1 min, before / after):", "",
                  "| tracks | contender | CPU s | publish s | peak temp MB | min free GB | "
                  "load average |", "|---:|---|---:|---:|---:|---:|---|"]
        lines += [f"| {tracks:,} | {kind} | {r['cpu_seconds']:,.0f} | "
                  f"{r.get('publish_seconds', 0):.1f} | {r['peak_temp_mb']:,.0f} | "
                  f"{r['min_free_gb']} | {r['load_average_before'][0]:.1f} / "
                  f"{r['load_average_after'][0]:.1f} |" for tracks, kind, r in detailed]
    phased = [(row["tracks"], KINDS[kind], c["runs"][-1]["phases"])
              for row in results["sizes"] for kind, c in row["contenders"].items()
              if c["runs"][-1].get("phases")]
    if phased:
        lines += ["", "Peak RSS (MB, the process tree sampled from /proc every 0.5 s) and seconds "
                  "per phase, last run:", "", "| tracks | contender | phase | peak RSS MB | s |",
                  "|---:|---|---|---:|---:|"]
        lines += [f"| {tracks:,} | {kind} | {name} | {m['peak_rss_mb']:,.0f} | {m['seconds']} |"
                  for tracks, kind, phases in phased for name, m in phases.items()]
    timelines = [(row["tracks"], KINDS[kind], c["runs"][-1]["timeline"])
                 for row in results["sizes"] for kind, c in row["contenders"].items()
                 if kind == "load" and c["runs"][-1].get("timeline")]
    for tracks, kind, timeline in timelines:
        lines += ["", f"RSS over time, {tracks:,} tracks, {kind} (every ~{TIMELINE_STEP} s "
                  "shown; read: the fraction of the JSON the loader has read):", "",
                  "| s | stage passed | chunks written | read | RSS MB | peak so far MB |",
                  "|---:|---|---:|---:|---:|---:|"]
        lines += [f"| {r['t']:.0f} | {r['stage']} | {r['chunks']} | {r['read']:.3f} | "
                  f"{r['rss_mb']:,.0f} | {r['peak_mb']:,.0f} |"
                  for r in timeline[::max(1, round(TIMELINE_STEP / 30))]]
    if results.get("notes"):
        lines += ["", "## Notes", "", *(f"- {note}" for note in results["notes"])]
    (RESULTS / f"{NAME}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    global SRC, NAME
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--baseline", type=Path, help="another checkout's src/ to compare")
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS),
                        default=["load", "no-validation", "ceiling"],
                        help="contenders (default: all but baseline; --baseline adds it)")
    parser.add_argument("--src", type=Path, default=SRC,
                        help="the sources to measure (e.g. a copy, so edits do not leak into a "
                             "long run)")
    parser.add_argument("--budget", type=float,
                        help="stop a run still going after this many seconds (reported as "
                             "incomplete, with its RSS over time)")
    parser.add_argument("--keep-store", action="store_true",
                        help="keep the store `load` wrote (bench/work/load-memory/store-load-N) "
                             "and record `fairtracks-ld stats` of it (disk by part)")
    parser.add_argument("--publish", action="store_true",
                        help="the measured load also publishes a snapshot, as `fairtracks-ld "
                             "load` does before it returns (timed apart as publish_seconds)")
    parser.add_argument("--until-merged", action="store_true",
                        help="every contender waits for RocksDB's compactions to go quiet after "
                             "its last write, counted in its figures (see the docstring)")
    parser.add_argument("--min-free-gb", type=float, default=8.0,
                        help="stop a run when the disk has less free than this (default 8)")
    parser.add_argument("--ceiling-from", type=Path, metavar="STORE",
                        help="write the ceiling's input of the (single) size from the records "
                             "of a store the load left, then measure (see the docstring)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "TARGET", "STORE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    SRC = args.src.resolve()
    NAME = "load-memory-merged" if args.until_merged else NAME
    sys.path.insert(0, str(SRC))
    WORK.mkdir(parents=True, exist_ok=True)
    kinds = args.kinds + (["baseline"] if args.baseline and "baseline" not in args.kinds else [])
    if args.ceiling_from:
        (size,) = args.sizes
        if not (WORK / f"doc-{size}.nq.zst").exists():
            ceiling_input_from_records(size, args.ceiling_from)
    bench(args.sizes, args.repeat, args.baseline, kinds, args.budget, args.keep_store,
          args.min_free_gb, args.publish, args.until_merged)
    print((RESULTS / f"{NAME}.md").read_text())


if __name__ == "__main__":
    main()
