"""Submission benchmark: publishing a document over HTTP (`PUT /collections/{id}/document`) vs
the command line (`fairtracks-ld load` of the same file), and the answer time of a tombstone.

One server on a fresh store. For each document (the v1-current example, 3 tracks; a generated
document of `--tracks` tracks), `--repeat` new versions (a new doc_version each) are submitted
one at a time and timed until the 201, then as many more are loaded with the CLI (process start
included; both validate against the store, write all or nothing and publish a snapshot). Then the
example's collection is withdrawn and a track IRI's 410 tombstone is timed against the 200
description of a live track. Medians and their ratios.

Usage: python bench/submission.py [--repeat 5] [--tracks 1000]
Writes bench/results/submission.json and bench/results/submission.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(store: Path, base: str, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                    "--base-iri", base, *args], check=True, capture_output=True)


def documents(tracks: int) -> dict[str, dict]:
    from fairtracks_ld.generate import generate_documents
    from fairtracks_ld.standard import example_documents

    example = json.loads(example_documents()["v1-current"].read_text(encoding="utf-8"))
    example["tracks"][0]["raw_file_ids"][0] = "encode:ENCFF207FGO"  # the example's one slip
    generated = next(iter(generate_documents(tracks=tracks, seed=3, tracks_per_document=tracks)))
    return {"example (3 tracks)": example, f"generated ({tracks} tracks)": generated}


def versions(document: dict, tag: str, count: int) -> list[dict]:
    out = []
    for n in range(count):
        version = copy.deepcopy(document)
        version["doc_info"]["doc_version"] = f"{tag}-{n}"
        out.append(version)
    return out


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tracks", type=int, default=1000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-submission-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    store = folder / "store"
    docs = documents(args.tracks)
    first = folder / "first.json"
    first.write_text(json.dumps(next(iter(docs.values()))), encoding="utf-8")
    cli(store, base, "load", str(first))
    env = dict(os.environ, FAIRTRACKS_LD_ADMIN_TOKEN=TOKEN)
    server = subprocess.Popen([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                               "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict[str, dict[str, float]] = {}
    try:
        deadline = time.time() + 180
        while True:
            try:
                requests.get(base, timeout=5)
                break
            except requests.RequestException:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.3)
        for name, document in docs.items():
            collection = document["collection_info"]["local_id"]
            url = f"{base}collections/{collection}/document"

            def submit(version: dict, url: str = url) -> None:
                answer = requests.put(url, json=version, timeout=600,
                                      headers={"Authorization": f"Bearer {TOKEN}"})
                assert answer.status_code == 201, answer.text[:2000]

            http = [timed(lambda v=v: submit(v)) for v in versions(document, "http",
                                                                   args.repeat)]
            paths = []
            for n, version in enumerate(versions(document, "cli", args.repeat)):
                path = folder / f"cli-{n}.json"
                path.write_text(json.dumps(version), encoding="utf-8")
                paths.append(path)
            load = [timed(lambda p=p: cli(store, base, "load", str(p))) for p in paths]
            results[name] = {"submit_median_s": statistics.median(http),
                             "cli_load_median_s": statistics.median(load),
                             "ratio_submit_to_cli": statistics.median(http)
                             / statistics.median(load)}
        example = next(iter(docs.values()))
        collection = example["collection_info"]["local_id"]
        track = f"{base}collection/{collection}/track/{example['tracks'][0]['local_id']}"
        generated = list(docs.values())[1]
        live = (f"{base}collection/{generated['collection_info']['local_id']}/track/"
                f"{generated['tracks'][0]['local_id']}")
        answer = requests.delete(f"{base}collections/{collection}", params={"reason": "bench"},
                                 headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        assert answer.status_code == 200, answer.text

        def get(url: str, status: int) -> float:
            return timed(lambda: _expect(requests.get(url, timeout=60,
                                                      headers={"Accept": "text/turtle"}), status))

        for url, status in ((track, 410), (live, 200)):  # warm the snapshot and caches
            get(url, status)
        tombstone = [get(track, 410) for _ in range(args.repeat * 4)]
        described = [get(live, 200) for _ in range(args.repeat * 4)]
        results["dereference (Turtle)"] = {
            "tombstone_410_median_ms": 1000 * statistics.median(tombstone),
            "live_track_200_median_ms": 1000 * statistics.median(described),
            "ratio_tombstone_to_live": statistics.median(tombstone) / statistics.median(described)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average": os.getloadavg()[0]},
              "repeat": args.repeat, "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "submission.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = ["# Submission benchmark", "",
             f"`python bench/submission.py --repeat {args.repeat} --tracks {args.tracks}`; "
             f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared machine: "
             "noisy).", "", "| case | measure | value |", "|---|---|---|"]
    for case, values in results.items():
        for key, value in values.items():
            lines.append(f"| {case} | {key} | {value:.3f} |")
    (RESULTS / "submission.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _expect(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text[:500])


if __name__ == "__main__":
    main()
