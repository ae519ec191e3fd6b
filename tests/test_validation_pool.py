"""The validation service runs in worker processes behind admission control, against a real
`fairtracks-ld serve`: dereferencing answers while every validation worker is busy, a full
validation queue is answered 503 at once, and a validation that runs away (past the memory bound)
is stopped and answered clearly, its worker replaced.

The server has one worker process with one validation worker, one waiting place, one validation
per client plus one queued, and a memory bound between what the example needs and what a
document of thousands of tracks needs. Its time limit is the test servers' hang guard (see
servers.VALIDATION_SECONDS): with four CPU hogs running, the first validation took 96 s of the
120 s limit this module had (10 s on a quiet machine) and, as the machine got busier, ran over it
(503), as did the one after a runaway worker was replaced. The time limit is tested on a pool of
its own (the last tests).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from servers import ANSWER_SECONDS, EXAMPLES, cli, free_port, serve
from test_scheduling import Reply, send

from fairtracks_ld.generate import generate_documents
from fairtracks_ld.web.uploads import Limits
from fairtracks_ld.web.validation_pool import ValidationPool, ValidationRefused
from fairtracks_ld.web.validation_work import Job

TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"
MAX_MEMORY = 450 * 2**20  # a warm worker holds about 310 MiB; 8,000 tracks need about 540
# (with the load memo off: a worker that reads the ontology bundle itself, as on a machine's
# first run; with a filled memo it holds ~260 MiB and 8,000 tracks peak at ~440 MiB)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("validation-pool")
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", "--allow-invalid", *EXAMPLES)
    env = {"FAIRTRACKS_LD_VALIDATE_WORKERS": "1", "FAIRTRACKS_LD_VALIDATE_QUEUE": "1",
           "FAIRTRACKS_LD_VALIDATIONS_PER_CLIENT": "1",
           "FAIRTRACKS_LD_VALIDATE_CLIENT_QUEUE": "1",
           "FAIRTRACKS_LD_VALIDATE_MAX_MEMORY": str(MAX_MEMORY),
           "FAIRTRACKS_LD_MEMO": "off"}
    with serve(store, port, env=env, workers=1) as base:
        yield base, store


def generated(tracks: int) -> bytes:
    return json.dumps(next(generate_documents(tracks, seed=3, tracks_per_document=tracks)),
                      ensure_ascii=False).encode("utf-8")


def _post(base: str, body: bytes, source: str, sent: threading.Event | None = None) -> Reply:
    """POST a document to /validate from the loopback address `source`; `sent` is set once the
    whole request has been sent."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=ANSWER_SECONDS,
                                      source_address=(source, 0))
    try:
        conn.request("POST", "/validate", body=body,
                     headers={"Content-Type": "application/json"})
        if sent is not None:
            sent.set()
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, response.headers, data)
    finally:
        conn.close()


class InFlight:
    """Validations posted from their own threads; `running()` while any has no answer."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.replies: list[Reply] = []  # in the order they came
        self._answered = threading.Condition()

    def post(self, base: str, body: bytes, source: str) -> None:
        """Start the POST; return once the server has the whole request (on a busy machine a
        thread can take longer than any fixed pause to get there)."""
        sent = threading.Event()

        def run() -> None:
            reply = _post(base, body, source, sent)
            with self._answered:
                self.replies.append(reply)
                self._answered.notify_all()

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)
        assert sent.wait(timeout=60), "the request was not sent"

    def first(self) -> Reply:
        """The first answer (waiting for it)."""
        with self._answered:
            assert self._answered.wait_for(lambda: self.replies, ANSWER_SECONDS), \
                "nothing was answered"
            return self.replies[0]

    def running(self) -> int:
        return sum(thread.is_alive() for thread in self.threads)

    def wait(self) -> list[Reply]:
        for thread in self.threads:
            thread.join(timeout=ANSWER_SECONDS)
        return self.replies


@pytest.fixture(scope="module")
def base(server) -> str:
    return server[0]


def test_the_example_is_validated_in_a_worker(base, examples):
    reply = _post(base, json.dumps(examples["v1-current"]).encode(), "127.0.0.2")
    assert reply.status == 200, reply.body
    answer: dict[str, Any] = json.loads(reply.body)
    assert answer["validated"] is False and answer["errors"]  # its "encode: ENCFF207FGO"


def test_dereferencing_answers_while_every_validation_worker_is_busy(base):
    body = generated(3000)  # validated in about 0.7 s on a quiet machine
    flight = InFlight()
    for source in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):  # one validating, one waiting for
        flight.post(base, body, source)  # the worker; the last to arrive finds the queue full
    busy = flight.first()  # refused at once, while the others still validate (their order of
    # arrival is not observable: a fixed pause for the second to be admitted was not enough)
    assert busy.status == 503 and int(busy.headers["Retry-After"]) >= 1
    assert "the server is busy" in json.loads(busy.body)["errors"][0]["description"]
    answered = 0
    while flight.running() and answered < 20:
        track = send(base, TRACK, source="127.0.0.6", headers={"Accept": "text/turtle"})
        assert track.status == 200 and b"ENCFF625ZYB" in track.body
        answered += 1
    assert flight.running(), "the validations ended before dereferencing was tried"
    replies = flight.wait()[1:]
    assert sorted(r.status for r in replies) == [200, 200]
    assert all(json.loads(r.body)["file"] == "(inline0)" for r in replies)


def test_a_runaway_validation_is_stopped_and_answered_clearly(base, examples):
    reply = _post(base, generated(8000), "127.0.0.7")
    assert reply.status == 413, reply.body
    description = json.loads(reply.body)["errors"][0]["description"]
    assert "more than the 450 MiB of memory" in description and "was stopped" in description
    again = _post(base, json.dumps(examples["v1-current"]).encode(), "127.0.0.7")
    assert again.status == 200, again.body  # a fresh worker took over
    assert requests.get(base + TRACK, headers={"Accept": "text/turtle"},
                        timeout=30).status_code == 200


def test_a_validation_past_its_time_limit_is_stopped(server, monkeypatch):
    """The pool on its own, with a time limit shorter than a fresh worker's warm-up (the
    ontology bundle read, memo off) plus a 20,000-track document (4,000 tracks could fit in 3 s
    on a fast machine): the worker is killed, the answer says why."""
    monkeypatch.setenv("FAIRTRACKS_LD_MEMO", "off")  # the worker inherits this environment
    pool = ValidationPool(server[1], timeout=3)
    try:
        job = Job("one", "application/json", Limits(), generated(20000))
        with pytest.raises(ValidationRefused) as stopped:
            pool.run(job, "127.0.0.8", time.monotonic())
        assert stopped.value.status == 503
        assert "longer than the server's limit of 3 s" in stopped.value.message
        assert "was stopped" in stopped.value.message
        (replacement, _), = list(pool._idle.queue)
        assert replacement.is_alive()  # a fresh worker took the killed one's place
    finally:
        pool.close()


def test_a_job_hands_back_what_is_only_to_be_freed_after_the_answer(examples):
    """The worker frees a job's scratch store and parsed document once the answer is on its
    way (0.15 s for 10k tracks): the job hands them back in `leftovers`, still whole, and the
    answer is the one made without them."""
    import pyoxigraph as ox

    from fairtracks_ld.validation import Validator
    from fairtracks_ld.web.validation_work import JSON, run

    checker = Validator()
    body = json.dumps(examples["v1-current"]).encode()
    limits = Limits(len(body) + 1, 10, len(body) + 1)
    leftovers: list[Any] = []
    kept = run(Job("one", JSON, limits, body), checker, leftovers)
    assert kept.status == 200
    assert kept.body == run(Job("one", JSON, limits, body), checker).body
    [scratch] = [left for left in leftovers if isinstance(left, ox.Store)]
    assert len(scratch) > 100  # the document's quads and context facts, not yet freed
    assert [left.document for left in leftovers if hasattr(left, "document")] \
        == [examples["v1-current"]]
