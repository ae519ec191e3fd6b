"""`/sparql` queries answered by the backend, with the embedded executor's limits: admission
control (per-client and queue limits, see web.admission), at most `workers` queries in flight
per server process, and the time limit counted from the request's arrival, passed on as the
HTTP timeout (the endpoint's own limit should be set as well: a timed-out request does not stop
a query inside every engine).

The backend's answer is read with pyoxigraph and written again in the negotiated format, through
the same capped buffer as embedded answers: every engine's answers look alike (Virtuoso's ASK
table becomes a boolean) and the result size limit holds.
"""

from __future__ import annotations

import threading
import time

import pyoxigraph as ox

from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.web.admission import Admission, Refused
from fairtracks_ld.web.backend.dataset import BackendReader, graph_iris, prologue, query_form
from fairtracks_ld.web.backend.endpoint import BackendError, Endpoint
from fairtracks_ld.web.executor import (
    GRAPH_FORMATS,
    RESULT_FORMATS,
    CappedBuffer,
    QueryError,
    QueryExecutor,
    QueryRequest,
)
from fairtracks_ld.web.query_text import declares_dataset, names_graphs
from fairtracks_ld.web.view import default_graphs


class BackendExecutor:
    """The QueryExecutor of a server with a backend (same `inline` and `run`)."""

    def __init__(self, reader: BackendReader, endpoint: Endpoint, workers: int = 2,
                 timeout: float = 30.0, max_bytes: int = 50_000_000, waiting: int = 2,
                 per_client: int = 2, client_queue: int = 4, excess: int = 8) -> None:
        self.reader = reader
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.admission = Admission(workers, waiting, per_client, timeout, client_queue, excess)
        self._running = threading.BoundedSemaphore(workers)

    inline = staticmethod(QueryExecutor.inline)  # the same requests skip the queue

    def run(self, request: QueryRequest, client: str = "",
            arrived: float | None = None) -> tuple[str, bytes]:
        """Answer a query or raise QueryError (as QueryExecutor.run, plus 502/504 for the
        backend's failures)."""
        if self.inline(request):
            return self.answer(request, self.timeout)
        deadline = (arrived if arrived is not None else time.monotonic()) + self.timeout
        try:
            with self.admission.admit(client, deadline):
                if not self._running.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    raise QueryError(503, "the server is busy: no place for a query opened "
                                          f"within the time limit of {self.timeout:g} s; try "
                                          "again later",
                                     max(1, round(self.admission.typical_seconds)))
                started = time.monotonic()
                try:
                    return self.answer(request, deadline - started)
                finally:
                    self._running.release()
                    self.admission.ran(time.monotonic() - started)
        except Refused as refused:
            raise QueryError(refused.status, refused.message, refused.retry_after) from None

    def answer(self, request: QueryRequest, seconds: float) -> tuple[str, bytes]:
        """(media type, bytes) of the backend's answer in the requested format."""
        if seconds <= 0:
            raise QueryError(503, f"the query waited longer than the server's limit of "
                                  f"{self.timeout:g} s")
        text = prologue(PREFIXES, request.base_iri) + request.query
        named = request.named_graphs
        default = request.default_graphs
        if default is None and not (named is None and declares_dataset(request.query)):
            store = self.reader.store()
            default = graph_iris(default_graphs(store), store.ox.default_dataset())
        if named is None and default is not None and names_graphs(request.query):
            named = self.reader.store().ox.catalog_graphs()  # GRAPH sees every graph
        if request.substitutions:
            raise QueryError(400, "bound parameters are not forwarded to a backend")
        graph_form = query_form(request.query) in ("construct", "describe")
        try:
            if graph_form:
                answer = self.endpoint.triples(text, default, named, timeout=seconds)
            else:
                answer = self.endpoint.solutions(text, default, named, timeout=seconds)
        except BackendError as failure:
            raise QueryError(failure.status, failure.message) from None
        out = CappedBuffer(self.max_bytes)
        try:
            if graph_form:
                ox.serialize(answer, out, GRAPH_FORMATS[request.graph_type])
                return request.graph_type, b"".join(out.parts)
            answer.serialize(out, RESULT_FORMATS[request.result_type])
        except SyntaxError as failure:  # parsed lazily, while written again
            raise QueryError(502, f"the SPARQL backend's results cannot be read: {failure}"
                             ) from None
        except OverflowError:
            raise QueryError(413, f"the result is larger than the server's limit of "
                                  f"{self.max_bytes:,} bytes; narrow the query or add LIMIT"
                             ) from None
        return request.result_type, b"".join(out.parts)

    def close(self) -> None:
        """Nothing to stop: the session's connections close with the process."""
