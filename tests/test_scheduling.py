"""Fair scheduling and the per-snapshot cache, against a real server on loopback.

The server has one worker process with one query worker, one waiting place, one query per
client and one more queued per client, so a few held queries fill it (queueing a client's excess
is tested in test_scheduling_queue). Clients are told apart by their source address (any
127.0.0.x reaches the loopback server); 127.0.0.9 is a trusted proxy whose X-Forwarded-For counts.

The queries that fill it call a gate (service_gate) that holds each one in its query worker
until the test lets it go: what runs, waits or is refused depends on the order of events only,
never on how fast a query runs on a busy machine. A request's arrival is not observable from
outside, so a full queue is proven by the refusal it causes, and "at once" means answered
while the queries ahead of it are still held. The time limits are checked by what they answer
to queries that nothing else would ever end.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from email.message import Message
from urllib.parse import urlencode, urlsplit

import pytest
from conftest import write_json
from servers import EXAMPLES, cli, free_port, hostile_document, serve
from service_gate import Gate

from fairtracks_ld.web.cache import Answer, SnapshotCache

TOKEN = "scheduling-token"
# a query's time limit: only one test lets it run out; for the others it is a hang guard (a query
# held at the gate is answered 503 when it runs out, failing the test rather than hanging it)
QUERY_SECONDS = 20
UPDATE_SECONDS = 10  # the quick update after the stopped one starts a fresh update worker
TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"


@pytest.fixture(scope="module")
def server(tmp_path_factory, session_gate):
    folder = tmp_path_factory.mktemp("scheduling")
    port = free_port()
    store = folder / "store"
    base = f"http://127.0.0.1:{port}/"
    cli(store, base, "load", "--allow-invalid", *EXAMPLES)
    env = {"FAIRTRACKS_LD_ADMIN_TOKEN": TOKEN, "FAIRTRACKS_LD_QUERY_WORKERS": "1",
           "FAIRTRACKS_LD_QUERY_QUEUE": "1", "FAIRTRACKS_LD_QUERIES_PER_CLIENT": "1",
           "FAIRTRACKS_LD_QUERY_CLIENT_QUEUE": "1",
           "FAIRTRACKS_LD_UPDATE_TIMEOUT": str(UPDATE_SECONDS)}
    with serve(store, port, "--query-timeout", str(QUERY_SECONDS), "--trusted-proxy",
               "127.0.0.9", "--allow-service", session_gate.endpoint, env=env,
               workers=1) as url:
        yield {"base": url, "store": store, "folder": folder, "iri": base}


class Reply:
    """An answer; `headers` are looked up case-insensitively, as HTTP names are."""

    def __init__(self, status: int, headers: Message, body: bytes):
        self.status, self.headers, self.body = status, headers, body


def send(base: str, path: str, *, source: str = "127.0.0.2", body: dict | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    """One request from the loopback address `source` (a GET, or a form POST of `body`)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60,
                                      source_address=(source, 0))
    try:
        if body is None:
            conn.request("GET", "/" + path, headers=headers or {})
        else:
            conn.request("POST", "/" + path, body=urlencode(body), headers={
                "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


_SENT = itertools.count()


def query(base: str, text: str, **options) -> Reply:
    """A SPARQL query, made unique by a comment: it always reaches a query worker, never the
    per-snapshot cache of answers (which these tests keep out of the way of scheduling)."""
    text += f"\n# request {next(_SENT)}"
    return send(base, "sparql", body={"query": text},
                headers={"Accept": "application/sparql-results+json",
                         **options.pop("headers", {})}, **options)


class Concurrent:
    """Gated queries in flight, each in its own thread, named by their gate tags."""

    def __init__(self, base: str, gate: Gate) -> None:
        self.base = base
        self.gate = gate
        self.threads: list[threading.Thread] = []
        self.replies: dict[str, Reply] = {}
        self.answered: list[str] = []  # tags in the order their replies came
        self.sent_at: dict[str, float] = {}  # when each query was sent (monotonic)
        self.answered_at: dict[str, float] = {}  # and when its reply came
        self._changed = threading.Condition()

    def send(self, source: str, *tags: str, forwarded_for: str | None = None) -> None:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        for tag in tags:
            self.sent_at[tag] = time.monotonic()

            def run(tag: str = tag) -> None:
                reply = query(self.base, self.gate.query(tag), source=source, headers=headers)
                with self._changed:
                    self.replies[tag] = reply
                    self.answered.append(tag)
                    self.answered_at[tag] = time.monotonic()
                    self._changed.notify_all()

            thread = threading.Thread(target=run)
            thread.start()
            self.threads.append(thread)

    def first_answered(self, *tags: str) -> str:
        """The first of `tags` to be answered (waiting for one)."""
        with self._changed:
            assert self._changed.wait_for(
                lambda: any(t in self.answered for t in tags), 60), f"none of {tags} answered"
            return next(t for t in self.answered if t in tags)

    def wait(self) -> dict[str, Reply]:
        for thread in self.threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in self.threads), "a query was not answered"
        return self.replies


def wait_until_idle(base: str) -> None:
    """Until a quick query is admitted again (killed workers are being replaced)."""
    deadline = time.monotonic() + 60
    while query(base, "ASK {}", source="127.0.0.8").status != 200:
        assert time.monotonic() < deadline, "the server did not become idle"
        time.sleep(0.5)


def fill(server, gate: Gate) -> tuple[Concurrent, str]:
    """The query worker held by "a" (127.0.0.2) and the waiting place taken by "b" (127.0.0.3)
    or "c" (127.0.0.4), the other refused: (the queries, the tag refused)."""
    sent = Concurrent(server["base"], gate)
    sent.send("127.0.0.2", "a")
    gate.wait_for(1)  # running, and held
    sent.send("127.0.0.3", "b")  # their order of arrival is not observable: one of them waits,
    sent.send("127.0.0.4", "c")  # the other finds the queue full
    return sent, sent.first_answered("b", "c")


def test_a_full_queue_is_answered_503_at_once(server, gate):
    wait_until_idle(server["base"])
    sent, refused = fill(server, gate)
    busy = sent.replies[refused]
    assert busy.status == 503, busy.body
    assert "a" not in sent.answered  # at once: while the queries ahead of it are held
    assert int(busy.headers["Retry-After"]) >= 1
    assert b"busy" in busy.body and b"queue is full" in busy.body
    # the waiting query's limit counts from its arrival, not from when it gets the worker: it
    # waits half its limit (the time under test, not a pause for something to happen), then
    # gets the worker and is held there; its limit then ends it half a limit later, not a limit
    waiting = "c" if refused == "b" else "b"
    time.sleep(max(0.0, sent.sent_at[waiting] + QUERY_SECONDS / 2 - time.monotonic()))
    gate.release("a")
    replies = sent.wait()
    assert replies["a"].status == 200, replies["a"].body
    assert replies[waiting].status == 503, replies[waiting].body
    assert b"counted from its arrival" in replies[waiting].body
    took = sent.answered_at[waiting] - sent.sent_at[waiting]
    assert took < QUERY_SECONDS * 1.25, f"answered {took:.1f} s after it was sent"


def test_a_client_past_its_queue_gets_429(server, gate):
    wait_until_idle(server["base"])
    sent = Concurrent(server["base"], gate)
    sent.send("127.0.0.2", "a1")
    gate.wait_for(1)  # running, and held: the client has used its share
    sent.send("127.0.0.2", "a2", "a3")  # one is queued: its client's queue holds one
    refused = sent.first_answered("a2", "a3")
    again = sent.replies[refused]
    assert again.status == 429, again.body
    assert int(again.headers["Retry-After"]) >= 1
    assert b"too many queries from 127.0.0.2" in again.body and b"queued" in again.body
    # anyone else's X-Forwarded-For is ignored: this is still 127.0.0.2
    forged = query(server["base"], gate.query("forged"), source="127.0.0.2",
                   headers={"X-Forwarded-For": "198.51.100.7"})
    assert forged.status == 429 and b"127.0.0.2" in forged.body, forged.body
    # behind the trusted proxy, each forwarded client has its own share and queue: one of these
    # waits for the query worker, one is queued, and the last to arrive is refused
    sent.send("127.0.0.9", "p1", "p2", "p3", forwarded_for="192.0.2.1")
    proxied = sent.replies[sent.first_answered("p1", "p2", "p3")]
    assert proxied.status == 429 and b"192.0.2.1" in proxied.body, proxied.body
    assert "a1" not in sent.answered  # all of it while the first query was held
    gate.release_all()
    replies = sent.wait()
    assert sorted(reply.status for reply in replies.values()) == [200] * 4 + [429] * 2


def test_cheap_requests_answer_while_every_query_worker_is_busy(server, gate):
    wait_until_idle(server["base"])
    sent, refused = fill(server, gate)
    assert sent.replies[refused].status == 503  # the worker is held and the queue is full
    track = send(server["base"], TRACK, source="127.0.0.5", headers={"Accept": "text/turtle"})
    assert track.status == 200
    describe = send(server["base"], "sparql", source="127.0.0.5", headers={
        "Accept": "text/turtle"}, body={"query": f"DESCRIBE <{server['iri']}{TRACK}>"})
    assert describe.status == 200 and b"ENCFF625ZYB" in describe.body
    search = send(server["base"], "search", source="127.0.0.5")
    assert search.status == 200
    assert sent.answered == [refused]  # answered while the query worker was still held
    gate.release_all()
    replies = sent.wait()
    assert sorted(reply.status for reply in replies.values()) == [200, 200, 503]


def test_an_update_over_its_limit_is_stopped_and_writes_nothing(server, gate):
    """The update writes a triple, then waits at the gate until its time limit stops it: one
    transaction, so the triple must not be there; the gate then lets the SERVICE call go, so
    an update left running would write it."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    held = (f"INSERT DATA {{ <urn:slow> <urn:p> 1 }} ; INSERT {{ <urn:slow> <urn:q> 2 }} WHERE "
            f"{{ SERVICE <{gate.endpoint}> {{ ?s <urn:gate:update> ?o }} }}")
    stopped = send(server["base"], "sparql", body={"update": held}, headers=auth)
    assert stopped.status == 503, stopped.body
    assert b"nothing was written" in stopped.body
    gate.release_all()
    quick = send(server["base"], "sparql", headers=auth, body={
        "update": "INSERT DATA { GRAPH <urn:g> { <urn:quick> <urn:p> 1 } }"})
    assert quick.status == 204  # after the stopped update, had it still been writing
    wait_until_idle(server["base"])
    assert b"false" in query(server["base"], "ASK { <urn:slow> ?p ?o }").body
    assert b"true" in query(server["base"],
                            "ASK { GRAPH <urn:g> { <urn:quick> ?p ?o } }").body


def test_cached_answers_are_identical_until_a_new_snapshot(server, examples):
    base = server["base"]

    def get(path: str = TRACK, **headers: str) -> Reply:
        return send(base, path, headers={"Accept": "application/ld+json", **headers})

    first, second = get(), get()
    assert first.status == second.status == 200
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert first.body == second.body
    assert first.headers["ETag"] == second.headers["ETag"]
    assert get(**{"If-None-Match": first.headers["ETag"]}).status == 304
    turtle = send(base, TRACK, headers={"Accept": "text/turtle"})
    assert turtle.headers["ETag"] != first.headers["ETag"]  # each representation its own
    describe = {"query": f"DESCRIBE <{server['iri']}{TRACK}>"}
    answers = [send(base, "sparql", body=describe, headers={"Accept": "text/turtle"})
               for _ in range(2)]
    assert [a.headers["X-Cache"] for a in answers] == ["miss", "hit"]
    assert answers[0].body == answers[1].body
    assert answers[0].headers["ETag"] == answers[1].headers["ETag"]
    assert get("collection/nothing/here").status == 404

    hostile = write_json(server["folder"] / "hostile.json", hostile_document(examples))
    cli(server["store"], server["iri"], "load", "--allow-invalid", str(hostile))
    after = get()
    assert after.status == 200 and after.headers["X-Cache"] == "miss"
    assert after.headers["ETag"] != first.headers["ETag"]
    assert get(**{"If-None-Match": first.headers["ETag"]}).status == 200
    assert send(base, "collection/hostile", headers={"Accept": "text/turtle"}).status == 200


def test_repeatable_query_answers_are_cached_per_snapshot(server):
    base = server["base"]
    select = {"query": "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY ?p"}
    json = {"Accept": "application/sparql-results+json"}
    first, second = (send(base, "sparql", body=select, headers=json) for _ in range(2))
    assert first.status == second.status == 200
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert first.body == second.body and first.headers["ETag"] == second.headers["ETag"]
    assert send(base, "sparql", body=select, headers={
        **json, "If-None-Match": first.headers["ETag"]}).status == 304
    csv = send(base, "sparql", body=select, headers={"Accept": "text/csv"})
    assert csv.headers["X-Cache"] == "miss" and csv.body.startswith(b"p,n")  # its own entry
    for changing in ("SELECT (STRUUID() AS ?u) WHERE {}", "SELECT (NOW() AS ?t) WHERE {}"):
        answers = [send(base, "sparql", body={"query": changing}, headers=json)
                   for _ in range(2)]
        assert all(a.status == 200 and "X-Cache" not in a.headers for a in answers)
    uuids = [send(base, "sparql", body={"query": "SELECT (STRUUID() AS ?u) WHERE {}"},
                  headers=json).body for _ in range(2)]
    assert uuids[0] != uuids[1]  # computed each time
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert send(base, "sparql", headers=auth, body={
        "update": "INSERT DATA { <urn:cached> <urn:p> 1 }"}).status == 204
    after = send(base, "sparql", body=select, headers=json)
    assert after.headers["X-Cache"] == "miss" and after.body != first.body  # a new snapshot
    assert b"urn:p" in after.body


def test_the_cache_is_bounded_by_bytes_and_follows_snapshots():
    cache = SnapshotCache(max_bytes=3000)
    made: list[str] = []

    def render(name: str, size: int = 1000):
        return lambda: made.append(name) or Answer("text/plain", b"x" * size)

    for name in ("a", "b", "c", "a"):
        cache.answer("1", name, render(name))
    assert made == ["a", "b", "c", "a"]  # three 1000-byte bodies and overheads exceed 3000
    assert cache.answer("1", "c", render("c"))[1]
    assert not cache.answer("2", "c", render("c"))[1]  # a newer snapshot starts empty
    assert not cache.answer("1", "c", render("c"))[1]  # an older one is never served
    off = SnapshotCache(max_bytes=3000, enabled=False)
    off.answer("1", "a", render("a"))
    assert not off.answer("1", "a", render("a"))[1]
