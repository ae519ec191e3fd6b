"""Where a cold DESCRIBE or dereference spends its CPU, in-process, step by step.

On bench/endpoint.py's store (`--tracks`, built by it), one thread, 200 tracks sampled with
seed 1, thread CPU time per call (median of `--rounds` passes over them, after a warm-up
pass): the store reads alone (`quads_for_pattern` of a track on the default graph and on every
graph; the full description, as nested.describe_one and resources.description read it), the
same reads without decoding terms (`SELECT (COUNT(*) …)`), Oxigraph's own DESCRIBE through
pyoxigraph, the same reads on the peer's optimised copy of the view, serialization, and whole
requests through the WSGI front door with the cache off, then again with the store read
replaced by its result (what our request handling costs around it). A tight loop keeps the CPU
caches warm: in a server the same work costs more (bench/request_cpu.py `--floors`).

Usage: python bench/describe_steps.py [--tracks 20000] [--rounds 5]
Writes bench/results/describe-steps-<tracks>.md and .json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from unittest import mock
from urllib.parse import urlencode, urlsplit

import endpoint
import pyoxigraph as ox

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
TRACK = ox.NamedNode("https://w3id.org/fairtracks-ld/vocab#Track")
DEFAULT = ox.DefaultGraph()
TURTLE = ox.RdfFormat.TURTLE


def per_call(fn: Callable[[str], Any], sample: list[str], rounds: int) -> float:
    """Median thread CPU µs per call over `rounds` passes over `sample`."""
    for iri in sample:
        fn(iri)
    passes = []
    for _ in range(rounds):
        start = time.thread_time_ns()
        for iri in sample:
            fn(iri)
        passes.append((time.thread_time_ns() - start) / len(sample) / 1000)
    return round(statistics.median(passes), 1)


def reads(store: ox.Store, iri: str) -> tuple[int, int]:
    """(quads_for_pattern calls, quads read) of nested.describe_one for `iri`."""
    from fairtracks_ld.web.nested import describe_one

    counted = [0, 0]

    class Counting:
        def quads_for_pattern(self, *pattern: Any) -> list[ox.Quad]:
            found = list(store.quads_for_pattern(*pattern))
            counted[0] += 1
            counted[1] += len(found)
            return found

    describe_one(Counting(), iri)  # type: ignore[arg-type]
    return counted[0], counted[1]


def wsgi_calls(work: os.PathLike) -> tuple[Callable[[str], bytes], Callable[[str], bytes]]:
    """A cold DESCRIBE (form POST, as endpoint.py sends it) and a dereference (GET, Turtle)
    through the application's WSGI front door, cache off."""
    os.environ.update({"FAIRTRACKS_LD_CACHE": "0", "FAIRTRACKS_LD_STORE": str(work),
                       "FAIRTRACKS_LD_QUERY_WORKERS": "1"})
    from fairtracks_ld.web.app import create_app
    from fairtracks_ld.web.front import FrontDoor
    from fairtracks_ld.web.settings import Settings

    app = FrontDoor(create_app(Settings()))
    host = urlsplit(endpoint.BASE).netloc
    common = {"SERVER_NAME": host.split(":")[0], "SERVER_PORT": host.split(":")[1],
              "HTTP_HOST": host, "wsgi.url_scheme": "http", "SCRIPT_NAME": "",
              "QUERY_STRING": "", "HTTP_ACCEPT": "text/turtle", "wsgi.errors": sys.stderr}
    bodies: dict[str, bytes] = {}

    def start(status: str, headers: list, exc_info: Any = None) -> None:
        if not status.startswith("200 "):
            raise RuntimeError(status)

    def describe(iri: str) -> bytes:
        body = bodies.get(iri) or bodies.setdefault(iri, urlencode(
            {"query": endpoint.explicit(f"DESCRIBE <{iri}>")}).encode())
        return b"".join(app({**common, "REQUEST_METHOD": "POST", "PATH_INFO": "/sparql",
                             "CONTENT_TYPE": "application/x-www-form-urlencoded",
                             "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)},
                            start))

    def dereference(iri: str) -> bytes:
        return b"".join(app({**common, "REQUEST_METHOD": "GET",
                             "PATH_INFO": urlsplit(iri).path, "wsgi.input": io.BytesIO()},
                            start))

    return describe, dereference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    endpoint.use_work(endpoint.HERE / "work" / f"endpoint-{args.tracks}")
    endpoint.prepare(args.tracks)
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.store.snapshots import current_snapshot
    from fairtracks_ld.web import executor, resources
    from fairtracks_ld.web.nested import describe_one

    load_before = os.getloadavg()[0]
    ours = TrackStore(current_snapshot(endpoint.WORK / "store"), read_only=True)
    store, peer = ours.ox, ox.Store.read_only(str(endpoint.WORK / "oxigraph"))
    tracks = [q.subject.value for q in store.quads_for_pattern(None, RDF_TYPE, TRACK, DEFAULT)]
    sample = random.Random(1).sample(sorted(tracks), 200)
    counts = [reads(store, iri) for iri in sample]
    described = {iri: describe_one(store, iri) for iri in sample}
    peer_triples = statistics.mean(len(list(peer.query(f"DESCRIBE <{iri}>"))) for iri in sample)
    describe, dereference = wsgi_calls(endpoint.WORK / "store")

    def node(iri: str) -> ox.NamedNode:
        return ox.NamedNode(iri)

    steps: dict[str, Callable[[str], Any]] = {
        "quads_for_pattern(track, -, -, default graph), listed":
            lambda i: list(store.quads_for_pattern(node(i), None, None, DEFAULT)),
        "quads_for_pattern(track, -, -, any graph), listed":
            lambda i: list(store.quads_for_pattern(node(i), None, None, None)),
        "quads_for_pattern of a node without triples":
            lambda i: list(store.quads_for_pattern(node(i + "#none"), None, None, DEFAULT)),
        "SELECT (COUNT(*)) of the track's triples (read, no term decoded)":
            lambda i: list(store.query(f"SELECT (COUNT(*) AS ?n) {{ <{i}> ?p ?o }}")),
        "SELECT ?p (the track's predicates decoded)":
            lambda i: list(store.query(f"SELECT ?p {{ <{i}> ?p ?o }}")),
        "SELECT ?o (the track's objects decoded)":
            lambda i: list(store.query(f"SELECT ?o {{ <{i}> ?p ?o }}")),
        "ASK {} (a query's parse and plan, no read)": lambda i: store.query("ASK {}"),
        "nested.describe_one (the DESCRIBE's reads)": lambda i: describe_one(store, i),
        "resources.description (the dereference's reads)":
            lambda i: resources.description(ours, i),
        "ox.serialize of describe_one's quads as Turtle":
            lambda i: ox.serialize(described[i], format=TURTLE),
        "Oxigraph's DESCRIBE through pyoxigraph, written in Rust":
            lambda i: store.query(f"DESCRIBE <{i}>").serialize(None, TURTLE),
        "peer's optimised copy: quads_for_pattern(track, default graph), listed":
            lambda i: list(peer.quads_for_pattern(node(i), None, None, DEFAULT)),
        "peer's optimised copy: nested.describe_one":
            lambda i: describe_one(peer, i),
        "peer's optimised copy: Oxigraph's DESCRIBE, written in Rust":
            lambda i: peer.query(f"DESCRIBE <{i}>").serialize(None, TURTLE),
        "whole DESCRIBE request through the WSGI front door": describe,
        "whole dereference request through the WSGI front door": dereference,
    }
    results = {name: per_call(fn, sample, args.rounds) for name, fn in steps.items()}
    descriptions = {iri: resources.description(ours, iri) for iri in sample}
    with mock.patch.object(executor, "describe_one", lambda _store, iri: described[iri]), \
            mock.patch.object(resources, "description", lambda _store, iri: descriptions[iri]):
        results["DESCRIBE request, store read replaced by its result"] = per_call(
            describe, sample, args.rounds)
        results["dereference request, store read replaced by its result"] = per_call(
            dereference, sample, args.rounds)
    report = {
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count(),
                    "load_average_before": round(load_before, 2),
                    "load_average_after": round(os.getloadavg()[0], 2)},
        "config": {"tracks": args.tracks, "rounds": args.rounds,
                   "code": endpoint.commit_of(endpoint.HERE.parent),
                   "pyoxigraph": ox.__version__},
        "reads_per_describe": {
            "quads_for_pattern_calls": round(statistics.mean(c for c, _ in counts), 2),
            "quads": round(statistics.mean(q for _, q in counts), 1),
            "peer_describe_triples": round(peer_triples, 1)},
        "thread_cpu_us_per_call": results,
    }
    name = f"describe-steps-{args.tracks}"
    (endpoint.RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (endpoint.RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    config, counts = report["config"], report["reads_per_describe"]
    lines = [
        "# A cold DESCRIBE, step by step (in-process)", "",
        f"{config['tracks']:,} generated tracks, the snapshot `fairtracks-ld serve` opens (the "
        f"store as `load` leaves it) and the peer's optimised copy of the view; pyoxigraph "
        f"{config['pyoxigraph']}, code {config['code']}; one thread, 200 tracks sampled "
        f"with seed 1, median of {config['rounds']} passes; load average before "
        f"/ after: {report['machine']['load_average_before']} / "
        f"{report['machine']['load_average_after']} on {report['machine']['cpus']} CPUs.", "",
        f"A DESCRIBE of a track reads {counts['quads']} quads in "
        f"{counts['quads_for_pattern_calls']} `quads_for_pattern` calls (the track, its nested "
        f"`#…` nodes and list cells); Oxigraph's own DESCRIBE of it has "
        f"{counts['peer_describe_triples']} triples (no nested nodes).", "",
        "| step | thread CPU µs per call |", "| --- | --- |",
        *(f"| {step} | {us} |" for step, us in report["thread_cpu_us_per_call"].items()), "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
