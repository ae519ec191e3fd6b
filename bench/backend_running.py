"""The query mix of bench/backend.py against servers already running (an embedded `serve`, a
`serve --backend` and the Virtuoso behind it), for a scale where bench/backend.py itself cannot
finish: at 100,000 tracks the backend replica's facet index could not be built (a query of the
build exceeded Virtuoso's time limit), so the search page is left out, and the embedded server
stops the sampling queries over every track at its 30 s limit, so the sample is read from
Virtuoso (the first 20,000 tracks with a label).

Usage: python bench/backend_running.py EMBEDDED_URL BACKEND_URL VIRTUOSO_URL [--repeat 20]
(URLs end with `/`; Virtuoso's is the one whose `sparql` is its endpoint). Prints one line per
kind (medians in ms, ratios to the embedded server) and writes them as JSON to standard output's
last line.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import backend

SAMPLE_LIMIT = "ft:label_short ?l } LIMIT 20000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("embedded")
    parser.add_argument("backend")
    parser.add_argument("virtuoso")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sample = backend.select

    def from_virtuoso(_url: str, query: str) -> list[dict]:
        return sample(args.virtuoso, query.replace("ft:label_short ?l }", SAMPLE_LIMIT))

    backend.select = from_virtuoso
    started, when = backend.uptime(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    kinds = {}
    for kind, requested in backend.plan(args.embedded, args.repeat, random.Random(1)).items():
        if kind == "page: search":
            continue
        direct = backend.for_virtuoso(kind, requested)
        targets = {"embedded": (args.embedded, requested), "backend": (args.backend, requested)}
        if direct is not None:
            targets["virtuoso"] = (args.virtuoso, direct)
        row = {}
        for name, (url, asked) in targets.items():
            backend.timed(url, asked[:3])
            row[name] = backend.figures(backend.timed(url, asked))
        for name in ("backend", "virtuoso"):
            if name in row:
                row[f"{name}_ratio"] = row[name]["median_ms"] / row["embedded"]["median_ms"]
        kinds[kind] = row
        print(kind, {k: round(v["median_ms"], 1) if isinstance(v, dict) else round(v, 2)
                     for k, v in row.items()}, flush=True)
    print(json.dumps({"when": when, "uptime_before": started, "uptime_after": backend.uptime(),
                      "kinds": kinds}))


if __name__ == "__main__":
    main()
