"""A client's excess queries are queued, not refused, and the queue is fair across clients.

The server has one worker process with one query worker, one waiting place, one query per
client and two more queued per client. Its queries call a gate (service_gate) that holds each
one in its query worker until the test lets it go, so what runs, waits or is refused depends on
the order of events only, never on how fast a query runs on a busy machine. A request's
arrival is not observable from outside, so a state is proven by the refusal it causes: a
client's request answered 429 while its first query is held shows that its queue is full.
The admission rules themselves are also checked directly on `Admission`, with threads holding
places, where the order of events is exact.
"""

from __future__ import annotations

import threading
import time

import pytest
from servers import EXAMPLES, cli, free_port, serve
from test_scheduling import Concurrent

from fairtracks_ld.web.admission import Admission, Refused


@pytest.fixture(scope="module")
def server(tmp_path_factory, session_gate):
    folder = tmp_path_factory.mktemp("scheduling-queue")
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", "--allow-invalid", *EXAMPLES)
    env = {"FAIRTRACKS_LD_QUERY_WORKERS": "1", "FAIRTRACKS_LD_QUERY_QUEUE": "1",
           "FAIRTRACKS_LD_QUERIES_PER_CLIENT": "1", "FAIRTRACKS_LD_QUERY_CLIENT_QUEUE": "2"}
    with serve(store, port, "--query-timeout", "60", "--allow-service", session_gate.endpoint,
               env=env, workers=1) as url:
        yield url


def test_a_clients_third_and_fourth_queries_are_queued_and_answered(server, gate):
    sent = Concurrent(server, gate)
    sent.send("127.0.0.2", "a1")
    gate.wait_for(1)  # running, and held: the client has used its share
    sent.send("127.0.0.2", "a2", "a3", "a4")  # two are queued; the last to arrive is refused
    refused = sent.first_answered("a2", "a3", "a4")  # nothing else can answer while a1 is held
    past = sent.replies[refused]
    assert past.status == 429
    assert int(past.headers["Retry-After"]) >= 1
    assert b"127.0.0.2" in past.body and b"queued" in past.body
    gate.release_all()
    replies = sent.wait()
    queued = sorted({"a2", "a3", "a4"} - {refused})
    assert [replies[t].status for t in ["a1", *queued]] == [200] * 3, \
        [replies[t].body for t in ["a1", *queued]]
    assert all(b'"s"' in replies[t].body for t in ["a1", *queued])
    assert sorted(gate.reached) == ["a1", *queued]  # each ran once, in a query worker


def test_a_queued_client_does_not_delay_anothers_first_query(server, gate):
    sent = Concurrent(server, gate)
    sent.send("127.0.0.3", "a1")
    gate.wait_for(1)  # running, and held
    sent.send("127.0.0.3", "a2", "a3", "a4")
    assert sent.replies[sent.first_answered("a2", "a3", "a4")].status == 429  # two queued
    sent.send("127.0.0.4", "b1")  # other clients' first queries: one takes the waiting place,
    sent.send("127.0.0.5", "c1")  # and the other is refused at once (the queue is full)
    busy = sent.first_answered("b1", "c1")
    assert sent.replies[busy].status == 503
    other = "c1" if busy == "b1" else "b1"
    gate.release("a1")
    assert gate.wait_for(2) == ["a1", other]  # the worker went to it, ahead of a's queue
    gate.release_all()
    replies = sent.wait()
    assert replies[other].status == 200 and replies["a1"].status == 200
    assert sorted(gate.reached[2:]) == sorted(t for t in ("a2", "a3", "a4")
                                              if replies[t].status == 200)
    assert len(gate.reached) == 4  # a's two queued queries ran after it


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
                    self.release.wait(120)
            except Refused as refused:
                self.refused = refused
                self.admitted.set()

        self.thread = threading.Thread(target=run)
        before = admission._queued  # requests in clients' queues (read for the test only)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.admitted.is_set() and admission._queued == before:  # arrived
            assert time.monotonic() < deadline, "the request neither took a place nor queued"
            time.sleep(0.001)

    def done(self) -> None:
        self.release.set()
        self.thread.join(60)


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
    assert a2.admitted.wait(60)
    assert log == ["a", "b", "a"]
    a2.done()  # both hold nothing; a3 waited longer than b2, but a was served last: b's turn
    assert b2.admitted.wait(60)
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
