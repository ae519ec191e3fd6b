"""The query executor (web/executor.py): heavy queries wait for a worker process, DESCRIBE of
constant IRIs does not (it is answered in the calling thread); a query running past the grace
period drops to a lower CPU priority, and the next one starts again at the normal one."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from servers import EXAMPLES, cli
from service_gate import Gate

from fairtracks_ld.store.snapshots import SnapshotReader
from fairtracks_ld.web import executor as executor_module
from fairtracks_ld.web.executor import QueryError, QueryExecutor, QueryRequest

BASE = "http://127.0.0.1:9/"
TRACK = BASE + "collection/encode_example/track/encode:ENCFF625ZYB"


def request(query: str) -> QueryRequest:
    return QueryRequest(query, "application/sparql-results+json", "application/n-triples")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = tmp_path_factory.mktemp("executor") / "store"
    cli(store, BASE, "load", "--allow-invalid", *EXAMPLES)
    return store


class Held:
    """A query sent from another thread that holds the executor's only query worker at the
    gate (service_gate) until the gate lets it go: busy without using the CPU, so the tests
    never depend on how long a heavy query takes on a busy machine."""

    def __init__(self, executor: QueryExecutor, gate: Gate) -> None:
        self.outcome: dict[str, object] = {}

        def run() -> None:
            try:
                self.outcome["answer"] = executor.run(request(gate.query("held")))
            except QueryError as error:
                self.outcome["status"] = error.status

        self.thread = threading.Thread(target=run)
        self.thread.start()
        gate.wait_for(1)  # being evaluated in the worker

    def answer(self, gate: Gate) -> tuple[str, bytes]:
        """Let the query go; its answer."""
        gate.release_all()
        self.thread.join(60)
        assert "answer" in self.outcome, self.outcome
        return self.outcome["answer"]


def test_a_describe_is_answered_while_the_only_worker_is_busy(store, gate):
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=30)
    try:
        busy = Held(executor, gate)
        media, body = executor.run(request(f"DESCRIBE <{TRACK}>"))
        assert not busy.outcome  # answered while the worker was held: it did not queue
        assert media == "application/n-triples" and f"<{TRACK}>".encode() in body
        assert busy.answer(gate)[0] == "application/sparql-results+json"
    finally:
        executor.close()


def _nice(pid: int, thread: int) -> int | None:
    """A worker thread's nice value, from /proc (None once the thread has ended)."""
    try:
        stat = Path(f"/proc/{pid}/task/{thread}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[16])


def test_a_query_running_past_the_grace_period_drops_priority(store, gate):
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=30, niceness=7)
    try:
        executor.run(request("ASK {}"))  # the worker has started
        worker = executor._idle.queue[0]
        pid = worker.process.pid
        base = _nice(pid, pid)
        busy = Held(executor, gate)
        running = worker.running.value  # the thread evaluating the held query
        deadline = time.monotonic() + 60  # lowered once 20 ms have passed: wait for it
        while _nice(pid, running) != min(19, base + 7):
            assert time.monotonic() < deadline, "the running query was not lowered"
            time.sleep(0.01)
        assert _nice(pid, pid) == base  # the process's main thread
        assert busy.answer(gate)[0] == "application/sparql-results+json"
    finally:
        executor.close()


def test_after_a_lowered_query_the_next_runs_at_normal_priority(store, gate):
    """The query after a lowered one is answered by another thread, at the normal priority.

    Nothing here depends on timing. The lowered query is held at the gate until its thread has
    been lowered (a query that finished first, on a busy machine, was never lowered). Threads
    are named while nothing can change them: the idle one between queries, the one evaluating
    the held query (it can be another than the idle one: on a busy machine the server may lower
    the idle thread before it has taken the request, and it hands the request over), and the one
    that answered a query that was never lowered (it stays). Reading the thread just after a
    lowered answer raced with the worker, which may already have started the next one; and a
    thread lowered just after its answer hands the next request over instead of ending at once,
    so the next query runs before the test waits for the lowered thread to end."""
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=30, grace=60.0)
    try:
        executor.run(request("ASK {}"))  # the worker has started; nothing is lowered yet
        worker = executor._idle.queue[0]
        pid = worker.process.pid
        base = _nice(pid, pid)
        for _ in range(2):
            gate.reset()
            assert _nice(pid, worker.running.value) == base  # the idle thread
            executor.grace = 0.0  # this query is lowered at once
            busy = Held(executor, gate)
            lowered = worker.running.value  # evaluating the held query
            deadline = time.monotonic() + 60
            while _nice(pid, lowered) != min(19, base + 10):
                assert time.monotonic() < deadline, "the held query was not lowered"
                time.sleep(0.01)
            assert busy.answer(gate)[0] == "application/sparql-results+json"
            executor.grace = 60.0  # the next one is not lowered, so its thread stays in view
            assert executor.run(request("ASK {}"))[1]
            following = worker.running.value
            assert following != lowered  # the lowered thread answered nothing more
            assert _nice(pid, following) == base
            while _nice(pid, lowered) is not None:  # and it ends
                assert time.monotonic() < deadline, "the lowered thread did not end"
                time.sleep(0.05)
    finally:
        executor.close()


def test_a_small_one_pattern_answer_is_written_while_the_only_worker_is_busy(store, gate):
    """A lookup by a value is answered in the calling thread; one whose answer passes the small
    cap goes to the worker (and so waits), complete."""
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=30)
    try:
        lookup = f"SELECT ?p ?o WHERE {{ <{TRACK}> ?p ?o }}"
        whole = executor.run(request(lookup))[1]
        busy = Held(executor, gate)
        assert executor.run(request(lookup))[1] == whole
        assert not busy.outcome  # answered while the worker was held: it did not queue
        assert busy.answer(gate)[0] == "application/sparql-results+json"
    finally:
        executor.close()


def test_a_one_pattern_query_with_many_solutions_goes_straight_to_a_worker(store, gate,
                                                                           monkeypatch):
    """Counted first: a lookup with more than SMALL_ROWS solutions is not written in the
    calling thread at all; it is admitted like any other query and waits for the worker (one
    whose LIMIT is small enough is answered at once, uncounted)."""
    monkeypatch.setattr(executor_module, "SMALL_ROWS", 3)
    executor = QueryExecutor(SnapshotReader(store), workers=1, timeout=30)
    try:
        few = f"SELECT ?o WHERE {{ <{TRACK}> a ?o }}"
        many = f"SELECT ?p ?o WHERE {{ <{TRACK}> ?p ?o }}"
        whole = executor.run(request(many))[1]
        busy = Held(executor, gate)
        assert executor.run(request(few))[0] == "application/sparql-results+json"
        limited = executor.run(request(many + " LIMIT 3"))[1]  # bounded by its LIMIT
        assert limited.count(b'"p":') == 3
        waiting: dict[str, bytes] = {}
        thread = threading.Thread(target=lambda: waiting.update(body=executor.run(
            request(many))[1]))
        thread.start()
        deadline = time.monotonic() + 30
        while executor.admission._admitted < 2:  # the held query and this one
            assert time.monotonic() < deadline, "the lookup was not admitted"
            time.sleep(0.01)
        assert not waiting  # it waits for the held worker
        busy.answer(gate)
        thread.join(30)
        assert waiting["body"] == whole
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
