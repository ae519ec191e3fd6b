"""SPARQL execution in killable worker processes: timeouts and size limits that really hold.

pyoxigraph cannot interrupt a running query, so each query runs in a worker process holding a
read-only snapshot. The server thread waits at most `timeout` seconds, then kills the worker and
starts a fresh one; other clients are served by the other workers meanwhile. Results are
serialised in the worker into a capped buffer, so an oversized result is refused, not streamed
forever.

One kind of query skips the worker: DESCRIBE of constant IRIs (a linked-data client's commonest
request). Its cost is bounded by the triples about those resources, so it cannot run away, and
the round trip to a worker process (pickling, two pipe hops, a context switch) would cost more
than the query itself. It runs in the server thread on the same snapshot, as do
the server's own bounded queries (`QueryRequest.bounded`, e.g. a page of search results).

A SELECT of one triple pattern (sparql.single_pattern: a lookup by a value, say) is answered there
too when it has at most SMALL_ROWS solutions, by its LIMIT or counted first (Oxigraph counts index
keys without decoding a term: 0.28 ms to count past 1,000 of a 3,763-solution answer at 100k
tracks, against 10.6 ms to write it), with its answer capped at SMALL_ANSWER bytes: Oxigraph reads
such a pattern as one index range in which every key is a solution, so the cap bounds the work as
well. A query with more solutions, or a larger answer (dropped at the cap), goes to a worker like
any other, under admission control and the time limit; counting first spares the big ones the ~3 ms
of writing SMALL_ANSWER bytes only to throw them away. Neither kind can spell SERVICE, so the
server thread never reaches the network for a query (see isolation).

Every other query passes admission control (see admission) and has `timeout` seconds from its
arrival, queueing included: a query still waiting for a worker when its time is up is answered
503 as "busy", one that runs over is stopped and answered 503 as too long.

A query still running after `grace` seconds (default 20 ms) drops to a lower CPU priority (nice),
so cheap requests keep the CPU they need while heavy queries run; a query that finishes within
the grace period never waits behind other work at a lowered priority (on a busy machine a
nice-10 process waits many milliseconds for the CPU each time it is woken). Each query runs in a
thread of the worker process; the server process renices that thread (Linux priorities are per
thread), and a thread once lowered ends after its answer, so the next query starts in a fresh
thread at the worker's normal priority (an unprivileged process cannot raise a priority again).
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import queue
import select
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from fairtracks_ld.sparql.policy import mentions_network
from fairtracks_ld.sparql.single_pattern import one_pattern
from fairtracks_ld.store import PREFIXES
from fairtracks_ld.store.snapshots import SnapshotReader
from fairtracks_ld.web.admission import Admission, Refused
from fairtracks_ld.web.isolation import start_process
from fairtracks_ld.web.nested import describe_one, with_nested
from fairtracks_ld.web.query_text import described_iris, describes_constants, one_described

RESULT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
}
_EMPTY = ox.Store()  # parses a query's prologue (_prologue_parses)
SMALL_ANSWER = 128 * 1024  # bytes: a one-pattern answer up to this size is written inline
SMALL_ROWS = 1000  # solutions: a one-pattern query with more goes straight to a worker


class QueryError(Exception):
    """A query that cannot be answered; `status` is the HTTP status to answer with, and
    `retry_after` the seconds to tell the client to wait (429, 503), if any."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class AnswerTooLarge(QueryError):
    """The answer passed the byte limit it was written under (413)."""


@dataclass
class QueryRequest:
    """What a worker needs to answer one query."""

    query: str
    result_type: str  # media type for SELECT/ASK results
    graph_type: str  # media type for CONSTRUCT/DESCRIBE results
    default_graphs: list[str] | None = None  # None: the store's current view
    named_graphs: list[str] | None = None
    base_iri: str | None = None  # relative IRIs in the query resolve against it
    substitutions: dict[str, Any] = field(default_factory=dict)
    bounded: bool = False  # the server's own query of known, small cost: answered inline


class CappedBuffer:
    """A write-only buffer that refuses to grow past `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.limit = limit

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise OverflowError
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def execute(store, request: QueryRequest, max_bytes: int,
            whole: bool = False) -> tuple[str, bytes]:
    """Run one query on a TrackStore; returns (media type, bytes).

    The dataset is the protocol's (default-graph-uri / named-graph-uri) when given, else the
    query's own (FROM / FROM NAMED), else the current view (the store's default graph).

    `whole`: the answer is bounded by the data (a DESCRIBE of constant IRIs, the server's own
    bounded queries), so pyoxigraph writes it in one piece, in Rust, and its size is checked
    after; that saves 20 µs a DESCRIBE (5%) against writing through a Python buffer. Any other
    answer is written into a CappedBuffer, which stops it at `max_bytes` (a worker's answer, or
    a one-pattern answer whose cap bounds the work too).

    A DESCRIBE of constant IRIs answers with their nested nodes too (`nested.with_nested`: the
    hash IRIs of nested objects and list cells), as dereferencing them does. The DESCRIBE of
    one IRI on the current view is read without a query (`_one_described`, nested.describe_one:
    the same triples in the same order, parsing the query would cost more than reading them)."""
    described_iri = _one_described(request)
    if described_iri is not None:
        media = request.graph_type
        try:
            triples = describe_one(store.ox, described_iri)
        except ValueError:  # not an IRI after all: Oxigraph reports the error
            pass
        else:
            body = ox.serialize(triples, format=GRAPH_FORMATS[media])
            if len(body) <= max_bytes:
                return media, body
            raise _too_large(max_bytes)
    options: dict[str, Any] = {}
    if request.default_graphs is not None:  # the protocol's dataset overrides the query's
        options["default_graph"] = _graph_nodes(request.default_graphs)
    if request.named_graphs is not None:
        options["named_graphs"] = _graph_nodes(request.named_graphs)
    if request.substitutions:
        options["substitutions"] = request.substitutions
    if request.base_iri:
        options["base_iri"] = request.base_iri
    try:
        result = store.ox.query(request.query, prefixes=PREFIXES, **options)
    except SyntaxError as error:
        raise QueryError(400, f"SPARQL syntax error: {error}") from error
    if isinstance(result, ox.QueryTriples):
        media, syntax = request.graph_type, GRAPH_FORMATS[request.graph_type]
        if describes_constants(request.query):  # with the resources' nested nodes
            described = described_iris(request.query, request.base_iri, PREFIXES)
            triples = with_nested(store.ox, list(result), described,
                                  options.get("default_graph", [ox.DefaultGraph()]))
            body = ox.serialize(triples, format=syntax)
            if len(body) <= max_bytes:
                return media, body
            raise _too_large(max_bytes)
    else:
        media, syntax = request.result_type, RESULT_FORMATS[request.result_type]
    if whole:
        body = result.serialize(None, syntax)
        if len(body) <= max_bytes:
            return media, body
    else:
        out = CappedBuffer(max_bytes)
        try:
            result.serialize(out, syntax)
            return media, b"".join(out.parts)
        except OverflowError:
            pass
    raise _too_large(max_bytes)


def _one_described(request: QueryRequest) -> str | None:
    """The IRI of a `DESCRIBE <iri>` (after PREFIXes: query_text.one_described) on the current
    view, or None for any other query or a request naming its dataset."""
    if request.default_graphs is not None or request.named_graphs is not None or \
            request.substitutions:
        return None
    found = one_described(request.query)
    if found is None or not _prologue_parses(found[0], request.base_iri):
        return None
    return found[1]


@lru_cache(maxsize=256)
def _prologue_parses(prologue: str, base_iri: str | None) -> bool:
    """Whether Oxigraph accepts the PREFIX declarations (a PREFIX IRI must be an IRI once
    resolved against the base); clients send few distinct ones, so each is parsed once."""
    if not prologue:
        return True
    try:
        _EMPTY.query(prologue + "ASK {}", base_iri=base_iri)
    except (SyntaxError, ValueError):
        return False
    return True


def _too_large(max_bytes: int) -> AnswerTooLarge:
    return AnswerTooLarge(413, f"the result is larger than the server's limit of "
                               f"{max_bytes:,} bytes; narrow the query or add LIMIT")


def _graph_nodes(iris: list[str]) -> list[ox.NamedNode]:
    """The protocol's graph IRIs as nodes; 400 for one that is not an IRI."""
    try:
        return [ox.NamedNode(iri) for iri in iris]
    except ValueError as error:
        raise QueryError(400, f"a default-graph-uri or named-graph-uri is not an IRI: "
                              f"{error}") from error


class _SnapshotQueries:
    """Answers queries on the current snapshot, as one process sees them (a worker process, or
    a server process for bounded queries)."""

    def __init__(self, reader: SnapshotReader, max_bytes: int) -> None:
        self.reader = reader
        self.max_bytes = max_bytes
        self.lock = threading.Lock()  # the reader follows snapshots

    def answer(self, request: QueryRequest, max_bytes: int | None = None,
               whole: bool = False) -> tuple[str, bytes]:
        """(media type, bytes) of at most `max_bytes` (default: the server's limit), or
        QueryError (any other failure becomes a 500); `whole`: see execute."""
        try:
            with self.lock:
                store = self.reader.store()
            return execute(store, request, max_bytes or self.max_bytes, whole)
        except QueryError:
            raise
        except OSError as error:
            if not mentions_network(request.query):
                raise QueryError(500, f"{type(error).__name__}: {error}") from error
            raise QueryError(502, f"a SERVICE endpoint failed: {error}") from error
        except Exception as error:  # reported to the client; the process lives on
            raise QueryError(500, f"{type(error).__name__}: {error}") from error


    def count(self, counting: str, request: QueryRequest) -> int:
        """The answer of `counting` (OnePattern.capped_count of the request's query) on
        the current view; 0 when it cannot be run, so that the query itself says why."""
        with self.lock:
            store = self.reader.store()
        try:
            rows = store.ox.query(counting, prefixes=PREFIXES, base_iri=request.base_iri)
            return int(next(iter(rows))[0].value)
        except (SyntaxError, ValueError, OSError):
            return 0


def _worker(conn: Connection, store_path: str, max_bytes: int,
            isolate: bool, warn: bool, running: Any) -> None:
    """Answer queries from the pipe; first leave the network when `isolate` (see isolation).
    The thread answering is named in `running` (a shared integer: its native id), so that the
    server process can lower its priority (see QueryExecutor._run)."""
    from fairtracks_ld.web.isolation import die_with_parent

    die_with_parent()
    if isolate:
        from fairtracks_ld.web.isolation import drop_network

        reason = drop_network()
        if reason is not None and warn:
            logging.getLogger(__name__).warning(
                "query workers keep network access (%s); the SERVICE policy is the only guard",
                reason)
    queries = _SnapshotQueries(SnapshotReader(Path(store_path)), max_bytes)
    with suppress(FileNotFoundError):  # opened now, so its threads keep the normal priority
        queries.reader.store()
    normal = os.getpriority(os.PRIO_PROCESS, 0)
    carried: list[Any] = [None]  # a request for the next thread, or _CLOSED
    while carried[0] is not _CLOSED:  # a fresh thread, at the normal priority, after a lowered
        thread = threading.Thread(target=_answer_until_lowered,
                                  args=(conn, queries, running, normal, carried))
        thread.start()
        thread.join()


_CLOSED = object()  # the pipe closed: the server process is gone


def _answer_until_lowered(conn: Connection, queries: _SnapshotQueries, running: Any,
                          normal: int, carried: list[Any]) -> None:
    """Answer queries in this thread until its priority has been lowered; a request received
    after that (lowered while idle, just after its last answer) is carried to the next thread."""
    running.value = threading.get_native_id()
    request, carried[0] = carried[0], _CLOSED

    def lowered() -> bool:
        return os.getpriority(os.PRIO_PROCESS, 0) != normal  # this thread's priority

    while True:
        if request is None:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            if lowered():
                carried[0] = request
                return
        try:
            reply = ("ok", *queries.answer(request))
        except QueryError as error:
            reply = ("error", error.status, error.message)
        done = lowered()
        conn.send(reply)
        request = None
        if done:
            carried[0] = None
            return


@dataclass
class _Worker:
    """A query worker process, its pipe, and the native id of the thread answering in it."""

    process: Any
    conn: Connection
    running: Any  # a shared integer (multiprocessing.Value)
    answer_ready: Any = None  # a poll object on `conn` (Connection.poll builds a selector per call)

    def __post_init__(self) -> None:
        self.answer_ready = select.poll()
        self.answer_ready.register(self.conn.fileno(), select.POLLIN)

    def wait(self, seconds: float) -> bool:
        """Whether the worker's answer (or its end) arrived within `seconds`."""
        return bool(self.answer_ready.poll(max(0, math.ceil(seconds * 1000))))

    def lower(self, niceness: int, done: int) -> int:
        """Lower the answering thread's CPU priority by `niceness` unless it is `done` (it
        ends after its answer); returns the thread's native id, 0 while the worker starts."""
        thread = self.running.value
        if thread and thread != done:  # never 0: that would lower the calling thread
            with suppress(OSError):  # the thread or process is gone: nothing to lower
                os.setpriority(os.PRIO_PROCESS, thread,
                               min(19, os.getpriority(os.PRIO_PROCESS, thread) + niceness))
        return thread


class QueryExecutor:
    """A pool of query worker processes over the store's current snapshot, behind admission
    control (bounded queries are answered in the calling thread)."""

    def __init__(self, reader: SnapshotReader, workers: int = 2, timeout: float = 30.0,
                 max_bytes: int = 50_000_000,
                 isolate_network: bool = False, waiting: int = 2,
                 per_client: int = 2, niceness: int = 10, client_queue: int = 4,
                 excess: int = 8, grace: float = 0.02) -> None:
        """`reader`: the server process's own snapshot reader, shared with bounded queries;
        `isolate_network`: workers run without network (when no SERVICE is allowed);
        `waiting`: queries that may wait for a worker; `per_client`: queries one client may
        have running or waiting; `client_queue` and `excess`: a client's queries queued beyond
        that, per client and in all (see admission); `niceness`: how far a query running longer
        than `grace` seconds has its CPU priority lowered."""
        self.store_path = str(reader.store_path)
        self.isolate_network = isolate_network
        self.niceness = niceness
        self.grace = grace
        self._warned = False  # a failed isolation is logged by the first worker only
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.admission = Admission(workers, waiting, per_client, timeout, client_queue, excess)
        self._context = mp.get_context("spawn")  # never fork a process holding RocksDB handles
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for _ in range(workers):
            self._idle.put(self._start())
        self._inline = _SnapshotQueries(reader, max_bytes)

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        running = self._context.Value("q", 0, lock=False)
        process = self._context.Process(
            target=_worker, args=(child, self.store_path, self.max_bytes,
                                  self.isolate_network, not self._warned, running),
            daemon=True
        )
        self._warned = True
        start_process(process)
        return _Worker(process, parent, running)

    @staticmethod
    def inline(request: QueryRequest) -> bool:
        """Whether the request is answered in the calling thread (bounded, never queued)."""
        return request.bounded or (request.default_graphs is None
                                   and request.named_graphs is None
                                   and describes_constants(request.query))

    def _small(self, request: QueryRequest) -> bool:
        """Whether the request is one triple pattern over the current view with at most
        SMALL_ROWS solutions (its LIMIT says so, or they are counted), whose answer is tried in
        the calling thread up to SMALL_ANSWER bytes."""
        if request.default_graphs is not None or request.named_graphs is not None \
                or request.substitutions:
            return False
        pattern = one_pattern(request.query)
        if pattern is None:
            return False
        if pattern.limit is not None and pattern.limit <= SMALL_ROWS:
            return True
        return self._inline.count(pattern.capped_count(SMALL_ROWS), request) <= SMALL_ROWS

    def run(self, request: QueryRequest, client: str = "",
            arrived: float | None = None) -> tuple[str, bytes]:
        """Answer a query or raise QueryError (400 syntax, 413 too large, 429 too many from
        `client`, 503 busy or over the time limit counted from `arrived`, a monotonic time)."""
        if self.inline(request):
            return self._inline.answer(request, whole=True)
        if self._small(request):
            try:
                return self._inline.answer(request, min(SMALL_ANSWER, self.max_bytes))
            except AnswerTooLarge:
                if self.max_bytes <= SMALL_ANSWER:  # the server's own limit: 413
                    raise
        deadline = (arrived if arrived is not None else time.monotonic()) + self.timeout
        try:
            with self.admission.admit(client, deadline):
                return self._run(request, deadline)
        except Refused as refused:
            raise QueryError(refused.status, refused.message, refused.retry_after) from None

    def _run(self, request: QueryRequest, deadline: float) -> tuple[str, bytes]:
        try:
            worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise QueryError(503, f"the server is busy: no query worker became free within "
                                  f"the time limit of {self.timeout:g} s; try again later",
                             max(1, round(self.admission.typical_seconds))) from None
        started = time.monotonic()
        process, conn = worker.process, worker.conn
        try:
            conn.send(request)
            if not self._answered(worker, deadline):
                process.kill()
                process.join()
                worker = self._start()
                queued = started - (deadline - self.timeout)
                self.admission.ran(self.timeout)
                raise QueryError(503, f"the query ran longer than the server's limit of "
                                      f"{self.timeout:g} s (counted from its arrival, "
                                      f"{queued:.1f} s of it waiting for a query worker) and "
                                      "was stopped")
            answer = conn.recv()
        except (EOFError, OSError) as error:
            process.kill()
            worker = self._start()
            raise QueryError(500, f"query worker failed: {error}") from error
        finally:
            self._idle.put(worker)
        self.admission.ran(time.monotonic() - started)
        if answer[0] == "error":
            raise QueryError(answer[1], answer[2])
        return answer[1], answer[2]

    def _answered(self, worker: _Worker, deadline: float) -> bool:
        """Wait for the worker's answer until `deadline`, lowering the answering thread's
        priority once it has run for `grace` seconds; False when the deadline passed."""
        lowered = 0  # the thread lowered last: a lowered thread may hand its request over
        while True:
            remaining = deadline - time.monotonic()
            if worker.wait(min(max(self.grace, 0.005), remaining)):
                return True
            if time.monotonic() >= deadline:
                return False
            lowered = worker.lower(self.niceness, lowered)

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get().process.kill()
