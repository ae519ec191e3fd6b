"""The query executor (web/executor.py): heavy queries wait for a worker process, DESCRIBE of
constant IRIs does not (it is answered in the calling thread); a query running past the grace
period drops to a lower CPU priority, and the next one starts again at the normal one."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from servers import EXAMPLES, cli

from fairtracks_ld.store.snapshots import SnapshotReader
from fairtracks_ld.web import executor as executor_module
from fairtracks_ld.web.executor import QueryError, QueryExecutor, QueryRequest

BASE = "http://127.0.0.1:9/"
TRACK = BASE + "collection/encode_example/track/encode:ENCFF625ZYB"
MEDIUM = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }"  # well over a millisecond
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


def _nice(pid: int, thread: int) -> int | None:
    """A worker thread's nice value, from /proc (None once the thread has ended)."""
    try:
        stat = Path(f"/proc/{pid}/task/{thread}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = tmp_path_factory.mktemp("executor") / "store"
    cli(store, BASE, "load", "--allow-invalid", *EXAMPLES)
    return store


def test_a_query_running_past_the_grace_period_drops_priority(store):
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=3, niceness=7)
    try:
        executor.run(request("ASK {}"))  # the worker has started
        worker = executor._idle.queue[0]
        base = _nice(worker.process.pid, worker.process.pid)

        def heavy() -> None:
            with pytest.raises(QueryError):
                executor.run(request(HEAVY))

        thread = threading.Thread(target=heavy)
        thread.start()
        time.sleep(1)  # well past the 20 ms grace period
        running = worker.running.value
        assert _nice(worker.process.pid, running) == base + 7
        assert _nice(worker.process.pid, worker.process.pid) == base  # the process's main thread
        thread.join()
    finally:
        executor.close()


def test_after_a_lowered_query_the_next_runs_at_normal_priority(store):
    """The query after a lowered one is answered by another thread, at the normal priority.

    Which thread answers is read while nothing can change it: the idle thread before a query is
    sent (it receives it), and the thread that answered a query that was never lowered (it
    stays). Reading it just after a lowered answer raced with the worker, which may already
    have started the next thread; and the server may lower a thread just after its answer (on a
    busy machine), which then hands the next request over instead of ending at once."""
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=20, grace=60.0)
    try:
        executor.run(request("ASK {}"))  # the worker has started; nothing is lowered yet
        worker = executor._idle.queue[0]
        pid = worker.process.pid
        base = _nice(pid, pid)
        for _ in range(2):
            lowered = worker.running.value  # idle: it receives the next query
            assert _nice(pid, lowered) == base
            executor.grace = 0.0  # this query is lowered at once
            media, body = executor.run(request(MEDIUM))
            assert media == "application/sparql-results+json" and b'"n"' in body
            executor.grace = 60.0  # the next one is not, so its thread stays in view
            assert executor.run(request("ASK {}"))[1]
            following = worker.running.value
            assert following != lowered  # the lowered thread answered nothing more
            assert _nice(pid, following) == base
            deadline = time.monotonic() + 60  # the lowered thread ends (at nice 19 it may wait)
            while _nice(pid, lowered) is not None:
                assert time.monotonic() < deadline, "the lowered thread did not end"
                time.sleep(0.05)
    finally:
        executor.close()


def test_a_small_one_pattern_answer_is_written_while_the_only_worker_is_busy(store):
    """A lookup by a value is answered in the calling thread; one whose answer passes the small
    cap goes to the worker (and so waits), complete."""
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=4)
    try:
        lookup = f"SELECT ?p ?o WHERE {{ <{TRACK}> ?p ?o }}"
        whole = executor.run(request(lookup))[1]
        refused: list[int] = []

        def heavy() -> None:
            try:
                executor.run(request(HEAVY))
            except QueryError as error:
                refused.append(error.status)

        thread = threading.Thread(target=heavy)
        thread.start()
        time.sleep(1)  # the worker is now busy with the heavy query
        started = time.time()
        assert executor.run(request(lookup))[1] == whole
        assert time.time() - started < 2  # did not queue behind the heavy query
        thread.join()
        assert refused == [503]
    finally:
        executor.close()


def test_a_one_pattern_answer_past_the_small_cap_comes_whole_from_a_worker(store, monkeypatch):
    monkeypatch.setattr(executor_module, "SMALL_ANSWER", 200)
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=20)
    try:
        media, body = executor.run(request("SELECT * WHERE { ?s ?p ?o }"))
        assert media == "application/sparql-results+json" and len(body) > 10_000
        assert body.rstrip().endswith(b"}")
        small = QueryExecutor(SnapshotReader(store), workers=1, timeout=20, max_bytes=150)
        try:
            with pytest.raises(QueryError) as refused:
                small.run(request("SELECT * WHERE { ?s ?p ?o }"))
            assert refused.value.status == 413
        finally:
            small.close()
    finally:
        executor.close()


@pytest.mark.parametrize("query", [f"DESCRIBE <{TRACK}>", "SELECT * WHERE { ?s ?p ?o }",
                                   "CONSTRUCT WHERE { ?s ?p ?o }"])
def test_an_answer_written_whole_is_the_capped_answer_and_refused_past_the_limit(store, query):
    snapshot = SnapshotReader(store).store()
    capped = executor_module.execute(snapshot, request(query), 50_000_000)
    assert executor_module.execute(snapshot, request(query), 50_000_000, whole=True) == capped
    for whole in (False, True):
        with pytest.raises(QueryError) as refused:
            executor_module.execute(snapshot, request(query), len(capped[1]) - 1, whole=whole)
        assert refused.value.status == 413
        assert executor_module.execute(snapshot, request(query), len(capped[1]),
                                       whole=whole) == capped


def test_an_inline_describe_past_the_limit_is_refused(store):
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=20, max_bytes=100)
    try:
        with pytest.raises(QueryError) as refused:
            executor.run(request(f"DESCRIBE <{TRACK}>"))
        assert refused.value.status == 413
    finally:
        executor.close()
