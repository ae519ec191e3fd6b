"""Fair scheduling and the per-snapshot cache, against a real server on loopback.

The server has one worker process with one query worker, one waiting place, one query per
client and one more queued per client, so a few slow queries fill it (queueing a client's excess
is tested in test_scheduling_queue). Clients are told apart by their source address (any
127.0.0.x reaches the loopback server); 127.0.0.9 is a trusted proxy whose X-Forwarded-For counts.
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

from fairtracks_ld.web.cache import Answer, SnapshotCache

TOKEN = "scheduling-token"
QUERY_SECONDS = 4
UPDATE_SECONDS = 3
TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"
# a cross join over every triple, three times over: hours on even this small store
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SLOW_UPDATE = ("INSERT { <urn:slow> <urn:count> ?n } WHERE { SELECT (COUNT(*) AS ?n) WHERE { "
               "GRAPH ?x { ?a ?b ?c } GRAPH ?y { ?d ?e ?f } GRAPH ?z { ?g ?h ?i } } }")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
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
               "127.0.0.9", env=env, workers=1) as url:
        yield {"base": url, "store": store, "folder": folder, "iri": base}


class Reply:
    """An answer; `headers` are looked up case-insensitively, as HTTP names are."""

    def __init__(self, status: int, headers: Message, body: bytes, seconds: float):
        self.status, self.headers, self.body, self.seconds = status, headers, body, seconds


def send(base: str, path: str, *, source: str = "127.0.0.2", body: dict | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    """One request from the loopback address `source` (a GET, or a form POST of `body`)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60,
                                      source_address=(source, 0))
    started = time.monotonic()
    try:
        if body is None:
            conn.request("GET", "/" + path, headers=headers or {})
        else:
            conn.request("POST", "/" + path, body=urlencode(body), headers={
                "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, response.headers, data, time.monotonic() - started)
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


class Background:
    """Slow queries in flight, each from its own client; `wait()` gathers their replies."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.threads: list[threading.Thread] = []
        self.replies: list[Reply] = []

    def start(self, source: str, forwarded_for: str | None = None) -> None:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        thread = threading.Thread(target=lambda: self.replies.append(
            query(self.base, SLOW, source=source, headers=headers)))
        thread.start()
        self.threads.append(thread)
        time.sleep(1.0)  # admitted before the next request arrives

    def wait(self) -> list[Reply]:
        for thread in self.threads:
            thread.join(timeout=QUERY_SECONDS * 4)
        return self.replies


def wait_until_idle(base: str) -> None:
    """Until a quick query is admitted again (killed workers are being replaced)."""
    deadline = time.monotonic() + 60
    while query(base, "ASK {}", source="127.0.0.8").status != 200:
        assert time.monotonic() < deadline, "the server did not become idle"
        time.sleep(0.5)


def test_a_full_queue_is_answered_503_at_once(server):
    wait_until_idle(server["base"])
    slow = Background(server["base"])
    slow.start("127.0.0.2")  # running
    slow.start("127.0.0.3")  # waiting
    refused = query(server["base"], SLOW, source="127.0.0.4")
    assert refused.status == 503
    assert refused.seconds < 2.0
    assert int(refused.headers["Retry-After"]) >= 1
    assert b"busy" in refused.body and b"queue is full" in refused.body
    running, waiting = slow.wait()
    assert running.status == 503 and b"counted from its arrival" in running.body
    # the waiting query's limit counted from its arrival, not from when a worker took it
    assert waiting.status == 503
    assert waiting.seconds < QUERY_SECONDS + 2.0


def test_a_client_past_its_queue_gets_429(server):
    wait_until_idle(server["base"])
    slow = Background(server["base"])
    slow.start("127.0.0.2")  # running
    slow.start("127.0.0.2")  # queued: its client's queue holds one
    again = query(server["base"], SLOW, source="127.0.0.2")
    assert again.status == 429
    assert again.seconds < 2.0
    assert int(again.headers["Retry-After"]) >= 1
    assert b"too many queries from 127.0.0.2" in again.body and b"queued" in again.body
    # anyone else's X-Forwarded-For is ignored: this is still 127.0.0.2
    forged = query(server["base"], SLOW, source="127.0.0.2",
                   headers={"X-Forwarded-For": "198.51.100.7"})
    assert forged.status == 429 and b"127.0.0.2" in forged.body
    # behind the trusted proxy, each forwarded client has its own share and queue
    slow.start("127.0.0.9", forwarded_for="192.0.2.1")  # waiting for the query worker
    slow.start("127.0.0.9", forwarded_for="192.0.2.1")  # queued
    proxied = query(server["base"], SLOW, source="127.0.0.9",
                    headers={"X-Forwarded-For": "192.0.2.1"})
    assert proxied.status == 429 and b"192.0.2.1" in proxied.body
    slow.wait()


def test_cheap_requests_answer_while_every_query_worker_is_busy(server):
    wait_until_idle(server["base"])
    slow = Background(server["base"])
    slow.start("127.0.0.2")
    slow.start("127.0.0.3")
    track = send(server["base"], TRACK, source="127.0.0.5", headers={"Accept": "text/turtle"})
    assert track.status == 200 and track.seconds < 2.0
    describe = send(server["base"], "sparql", source="127.0.0.5", headers={
        "Accept": "text/turtle"}, body={"query": f"DESCRIBE <{server['iri']}{TRACK}>"})
    assert describe.status == 200 and describe.seconds < 2.0
    search = send(server["base"], "search", source="127.0.0.5")
    assert search.status == 200 and search.seconds < 2.0
    assert all(reply.status == 503 for reply in slow.wait())


def test_an_update_over_its_limit_is_stopped_and_writes_nothing(server):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    stopped = send(server["base"], "sparql", body={"update": SLOW_UPDATE}, headers=auth)
    assert stopped.status == 503
    assert b"nothing was written" in stopped.body
    assert stopped.seconds < UPDATE_SECONDS + 5.0  # the first update also starts its worker
    wait_until_idle(server["base"])
    assert b"false" in query(server["base"], "ASK { <urn:slow> ?p ?o }").body
    quick = send(server["base"], "sparql", headers=auth, body={
        "update": "INSERT DATA { GRAPH <urn:g> { <urn:quick> <urn:p> 1 } }"})
    assert quick.status == 204
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
