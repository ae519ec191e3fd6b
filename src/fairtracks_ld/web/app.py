"""Application factory: one store snapshot reader and one query executor per process."""

from __future__ import annotations

from flask import Flask

from fairtracks_ld.search.holder import IndexHolder
from fairtracks_ld.snapshots import SnapshotReader
from fairtracks_ld.web.executor import QueryExecutor
from fairtracks_ld.web.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask application (gunicorn calls this once per worker process)."""
    from fairtracks_ld.web import (
        api,
        description,
        dumps,
        home,
        query_page,
        resources,
        search,
        sparql,
        validate,
        vocabulary,
    )

    settings = settings or Settings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.extensions["snapshots"] = SnapshotReader(settings.store)
    app.extensions["search_index"] = IndexHolder(SnapshotReader(settings.store))
    app.extensions["executor"] = QueryExecutor(
        app.extensions["snapshots"], workers=settings.query_workers, timeout=settings.query_timeout,
        max_bytes=settings.max_result_bytes, flat_view=settings.flat_view,
    )
    for module in (home, query_page, sparql, description, dumps, search, api, validate,
                   vocabulary, resources):
        app.register_blueprint(module.blueprint)
    app.extensions["search_index"].warm()

    @app.after_request
    def cors(response):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type, Authorization"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    return app
