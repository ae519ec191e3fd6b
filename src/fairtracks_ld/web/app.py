"""Application factory: one store snapshot reader and one query executor per process."""

from __future__ import annotations

from flask import Flask

from fairtracks_ld.search.holder import IndexHolder
from fairtracks_ld.store.snapshots import SnapshotReader
from fairtracks_ld.web.cache import SnapshotCache
from fairtracks_ld.web.clients import networks
from fairtracks_ld.web.executor import QueryExecutor
from fairtracks_ld.web.settings import Settings
from fairtracks_ld.web.updates import UpdateRunner


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask application (once per server worker process)."""
    from fairtracks_ld.web import (
        api,
        description,
        dumps,
        errors,
        graph_store,
        home,
        query_page,
        resolve,
        resources,
        search,
        selections,
        signposting,
        sparql,
        submissions,
        validate,
        vocabulary,
        withdrawals,
    )

    settings = settings or Settings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    if settings.backend:  # an external SPARQL store instead of local snapshots (docs/backends.md)
        from fairtracks_ld.web.backend.web import install

        install(app, settings)
    else:
        app.extensions["snapshots"] = SnapshotReader(settings.store, collects=True)
        app.extensions["search_index"] = IndexHolder(SnapshotReader(settings.store))
        app.extensions["executor"] = QueryExecutor(
            app.extensions["snapshots"], workers=settings.query_workers,
            timeout=settings.query_timeout, max_bytes=settings.max_result_bytes,
            isolate_network=not settings.service_allow_list,
            waiting=settings.query_queue, per_client=settings.queries_per_client,
            niceness=settings.query_niceness, client_queue=settings.query_client_queue,
            excess=settings.query_excess,
        )
    app.extensions["updates"] = UpdateRunner(settings.store, settings.update_timeout,
                                             isolate_network=not settings.service_allow_list)
    app.extensions["cache"] = SnapshotCache(settings.cache_bytes, enabled=settings.cache)
    app.extensions["trusted_proxies"] = networks(settings.trusted_proxies)
    for module in (home, query_page, sparql, graph_store, description, dumps, search, api,
                   validate, vocabulary, resolve, selections, signposting, submissions,
                   withdrawals, resources):
        app.register_blueprint(module.blueprint)
    errors.register(app)
    if not settings.backend:
        submissions.resume_queued(settings.store, settings.submission_retry_seconds)
    app.extensions["search_index"].warm()
    return app  # the CORS headers are added in front of it (web/front.py)
