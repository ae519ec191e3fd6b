"""A client's excess queries are queued, not refused, and the queue is fair across clients.

The server has one worker process with one query worker, one waiting place, one query per
client and two more queued per client. The admission rules themselves are also checked directly
on `Admission`, with threads holding places, where the order of events is exact.
"""

from __future__ import annotations

import threading
import time

import pytest
from servers import EXAMPLES, cli, free_port, serve
from test_scheduling import Reply, query

from fairtracks_ld.web.admission import Admission, Refused

# about a second of work in a query worker: a bounded slice of a cross join
MODERATE = ("SELECT (COUNT(*) AS ?n) WHERE { { SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . "
            "?g ?h ?i } LIMIT 4000000 } }")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scheduling-queue")
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", "--allow-invalid", *EXAMPLES)
    env = {"FAIRTRACKS_LD_QUERY_WORKERS": "1", "FAIRTRACKS_LD_QUERY_QUEUE": "1",
           "FAIRTRACKS_LD_QUERIES_PER_CLIENT": "1", "FAIRTRACKS_LD_QUERY_CLIENT_QUEUE": "2"}
    with serve(store, port, "--query-timeout", "60", env=env, workers=1) as url:
        yield url


class Concurrent:
    """Queries sent one after another without waiting for the answers; replies in order."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.threads: list[threading.Thread] = []
        self.replies: dict[int, Reply] = {}
        self.finished: dict[int, float] = {}

    def send(self, source: str, text: str = MODERATE) -> None:
        index = len(self.threads)

        def run() -> None:
            self.replies[index] = query(self.base, text, source=source)
            self.finished[index] = time.monotonic()

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)
        time.sleep(0.3)  # arrives before the next one

    def wait(self) -> list[Reply]:
        for thread in self.threads:
            thread.join(timeout=120)
        return [self.replies[i] for i in range(len(self.threads))]


def test_a_clients_third_and_fourth_queries_are_queued_and_answered(server):
    sent = Concurrent(server)
    for _ in range(3):  # one running, two queued (its share is one)
        sent.send("127.0.0.2")
    past = query(server, MODERATE, source="127.0.0.2")  # the client's queue is full
    assert past.status == 429
    assert int(past.headers["Retry-After"]) >= 1
    assert b"127.0.0.2" in past.body and b"queued" in past.body
    replies = sent.wait()
    assert [r.status for r in replies] == [200, 200, 200], [r.body for r in replies]
    assert all(b'"n"' in r.body for r in replies)


def test_a_queued_client_does_not_delay_anothers_first_query(server):
    sent = Concurrent(server)
    for _ in range(3):
        sent.send("127.0.0.3")  # one running, two queued
    sent.send("127.0.0.4")  # another client's first query: waits for the worker, ahead of them
    replies = sent.wait()
    assert [r.status for r in replies] == [200] * 4
    first_of_other = sent.finished[3]
    assert first_of_other < sent.finished[1] < sent.finished[2]


# ---- the rules, on Admission itself ----------------------------------------------------------


class Holder:
    """A thread that takes a place for `client` and keeps it until released."""

    def __init__(self, admission: Admission, client: str, log: list[str]) -> None:
        self.release = threading.Event()
        self.admitted = threading.Event()
        self.refused: Refused | None = None

        def run() -> None:
            try:
                with admission.admit(client):
                    log.append(client)
                    self.admitted.set()
                    self.release.wait(10)
            except Refused as refused:
                self.refused = refused
                self.admitted.set()

        self.thread = threading.Thread(target=run)
        self.thread.start()
        time.sleep(0.1)

    def done(self) -> None:
        self.release.set()
        self.thread.join(5)


def test_excess_waits_for_an_idle_worker_and_queues_drain_fairly():
    admission = Admission(slots=1, waiting=1, per_client=1, limit_seconds=30, client_queue=2)
    log: list[str] = []
    a1 = Holder(admission, "a", log)  # running
    a2, a3 = Holder(admission, "a", log), Holder(admission, "a", log)  # queued
    b1 = Holder(admission, "b", log)  # first of its client: admitted (waiting place)
    b2 = Holder(admission, "b", log)  # queued
    with pytest.raises(Refused) as refused, admission.admit("a"):
        pass
    assert refused.value.status == 429
    assert log == ["a", "b"]
    a1.done()  # b1 holds the only slot now; no excess may take a place
    assert log == ["a", "b"]
    b1.done()  # the worker is idle: a's queued request has waited longest
    a2.admitted.wait(5)
    assert log == ["a", "b", "a"]
    a2.done()  # both hold nothing; a3 waited longer than b2, but a was served last: b's turn
    b2.admitted.wait(5)
    assert log[3] == "b"
    for holder in (b2, a3):
        holder.done()
    assert sorted(log) == ["a", "a", "a", "b", "b"]
    assert all(h.refused is None for h in (a1, a2, a3, b1, b2))


def test_a_full_queue_refuses_newcomers_with_503_and_long_waits_with_429():
    admission = Admission(slots=1, waiting=0, per_client=1, limit_seconds=2, client_queue=5)
    log: list[str] = []
    holder = Holder(admission, "a", log)
    with pytest.raises(Refused) as busy, admission.admit("b"):
        pass
    assert busy.value.status == 503 and "queue is full" in busy.value.message
    admission.typical_seconds = 5.0  # one run would outlast the time limit
    with pytest.raises(Refused) as long_wait, admission.admit("a"):
        pass
    assert long_wait.value.status == 429 and "past the time limit" in long_wait.value.message
    holder.done()
