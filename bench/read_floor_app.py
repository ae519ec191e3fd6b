"""The store-read floor of a cold DESCRIBE or dereference served from Python: bare WSGI apps
(no Flask, no fairtracks-ld code) under the granian settings `fairtracks-ld serve` uses, for
bench/request_cpu.py `--floors`. What they cost per request is what any Python server reading
the same snapshot through pyoxigraph must pay, whatever its own code.

FLOOR_MODE (FLOOR_STORE: the store to open read-only; FLOOR_BASE: the IRI the path is under):
- `constant`: FLOOR_BODY's bytes for every request (granian and WSGI alone);
- `read`: the answer fairtracks-ld gives (the track's triples, then those of the blank and
  nested `#…` nodes they lead to, pattern by pattern on the default graph, as
  web/nested.describe_one reads them), written as Turtle by `ox.serialize`, with as little
  Python around it as possible;
- `describe`: Oxigraph's own `DESCRIBE <iri>` through pyoxigraph, evaluated and written in Rust
  (the peer's answer: without the nested nodes, so fewer triples than `read`).

A POST is taken as a form whose only field is `query`, ending with `DESCRIBE <iri>`; a GET of
any other path as dereferencing FLOOR_BASE + path; `?query=ASK…` (the start-up probe) gets
the constant body.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pyoxigraph as ox

MODE = os.environ.get("FLOOR_MODE", "constant")
BODY = Path(os.environ["FLOOR_BODY"]).read_bytes()
STORE = ox.Store.read_only(os.environ["FLOOR_STORE"]) if MODE != "constant" else None
BASE = os.environ.get("FLOOR_BASE", "http://127.0.0.1:8000")
DEFAULT = ox.DefaultGraph()
TURTLE = ox.RdfFormat.TURTLE


def description(iri: str) -> list[ox.Quad]:
    """The IRI's triples and those of the blank and `#…` nodes they lead to, each node read
    once (the same quads as nested.describe_one, possibly in another order)."""
    prefix = iri + "#"
    found: list[ox.Quad] = []
    start = ox.NamedNode(iri)
    todo, seen = [start], {start}
    while todo:
        for quad in STORE.quads_for_pattern(todo.pop(), None, None, DEFAULT):
            found.append(quad)
            obj = quad.object
            kind = type(obj)
            if (kind is ox.BlankNode or (kind is ox.NamedNode and obj.value.startswith(prefix))
                    ) and obj not in seen:
                seen.add(obj)
                todo.append(obj)
    return found


def answer(iri: str) -> bytes:
    if MODE == "describe":
        return STORE.query(f"DESCRIBE <{iri}>").serialize(None, TURTLE)
    return ox.serialize(description(iri), format=TURTLE)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = BODY
    if environ["REQUEST_METHOD"] == "POST":
        form = environ["wsgi.input"].read().decode()
        if MODE != "constant":
            query = parse_qsl(form)[0][1].rstrip()
            body = answer(query[query.rindex("DESCRIBE <") + 10:-1])
    elif MODE != "constant" and not environ.get("QUERY_STRING", "").startswith("query=ASK"):
        body = answer(BASE + environ["PATH_INFO"])
    start_response("200 OK", [("Content-Type", "text/turtle"),
                              ("Content-Length", str(len(body)))])
    return [body]
