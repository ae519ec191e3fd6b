"""The query executor (web/executor.py): heavy queries wait for a worker process, DESCRIBE of
constant IRIs does not (it is answered in the calling thread)."""

from __future__ import annotations

import threading
import time

from servers import EXAMPLES, cli

from fairtracks_ld.snapshots import SnapshotReader
from fairtracks_ld.web.executor import QueryError, QueryExecutor, QueryRequest

BASE = "http://127.0.0.1:9/"
TRACK = BASE + "collection/encode_example/track/encode:ENCFF625ZYB"
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def request(query: str) -> QueryRequest:
    return QueryRequest(query, "application/sparql-results+json", "application/n-triples")


def test_a_describe_is_answered_while_the_only_worker_is_busy(tmp_path):
    store = tmp_path / "store"
    cli(store, BASE, "load", "--allow-invalid", *EXAMPLES)
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=4)
    try:
        outcome: dict[str, object] = {}

        def heavy() -> None:
            try:
                executor.run(request(HEAVY))
            except QueryError as error:
                outcome["status"] = error.status

        thread = threading.Thread(target=heavy)
        thread.start()
        time.sleep(1)  # the worker is now busy with the heavy query
        started = time.time()
        media, body = executor.run(request(f"DESCRIBE <{TRACK}>"))
        assert time.time() - started < 2  # did not queue behind the heavy query
        assert media == "application/n-triples" and f"<{TRACK}>".encode() in body
        thread.join()
        assert outcome["status"] == 503  # the heavy query still met the time limit
    finally:
        executor.close()
