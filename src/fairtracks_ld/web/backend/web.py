"""A Flask application reading from a backend instead of local snapshots: the backend's reader
and executor take the places of the snapshot reader and the query workers, the facet index is
built from the backend (once per replica: its processes share the segments), the backend's
failures are answered 502/504, and every write is refused, since the backend is written by
`fairtracks-ld publish --to`."""

from __future__ import annotations

from flask import Flask, Response, request

from fairtracks_ld.search.holder import IndexHolder
from fairtracks_ld.web.backend.dataset import BackendReader
from fairtracks_ld.web.backend.endpoint import BackendError, Endpoint
from fairtracks_ld.web.backend.executor import BackendExecutor
from fairtracks_ld.web.errors import error_response
from fairtracks_ld.web.settings import Settings

READ_METHODS = ("GET", "HEAD", "OPTIONS")
READ_POSTS = ("/sparql", "/validate")  # POST routes that read (queries, validation service)
READ_ONLY = ("this server answers from a SPARQL backend and is read-only: write to the backend "
             "with `fairtracks-ld publish --to`, then every replica shows the change")


def install(app: Flask, settings: Settings) -> None:
    """Give `app` the backend's reader, index holder and executor, and its refusals."""
    endpoint = Endpoint(settings.backend or "", timeout=settings.query_timeout,
                        connections=settings.query_workers + settings.query_queue + 4)
    reader = BackendReader(endpoint, settings.backend_base, settings.backend_poll,
                           settings.backend_view_graph)
    app.extensions["snapshots"] = reader
    holder = IndexHolder(reader)  # type: ignore[arg-type]
    holder.folder = settings.backend_segments  # shared by the replica's worker processes:
    # each version's segment is read from the backend by one of them, loaded by the others
    app.extensions["search_index"] = holder
    app.extensions["executor"] = BackendExecutor(
        reader, endpoint, workers=settings.query_workers, timeout=settings.query_timeout,
        max_bytes=settings.max_result_bytes, waiting=settings.query_queue,
        per_client=settings.queries_per_client, client_queue=settings.query_client_queue,
        excess=settings.query_excess)

    @app.errorhandler(BackendError)
    def backend_failed(error: BackendError) -> Response:
        return error_response(error.status, error.message)

    @app.before_request
    def refuse_writes() -> Response | None:
        if request.method in READ_METHODS:
            return None
        if request.method == "POST" and request.path.startswith(READ_POSTS):
            return None
        return error_response(405, f"405 Method Not Allowed: {READ_ONLY}")
