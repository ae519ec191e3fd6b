"""The home page: what this server holds and where to go next."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from fairtracks_ld.web import schema_org

blueprint = Blueprint("home", __name__)


@blueprint.route("/")
def index() -> str:
    store = current_app.extensions["snapshots"].store()
    collections = {}
    for version in store.versions():
        if version.current:
            collections[version.collection] = version
    listed = sorted(collections.items())
    return render_template("home.html", collections=listed, ontologies=store.ontologies(),
                           base=store.base, catalog=schema_org.catalog(
                               store.base, [(iri, iri.rsplit("/", 1)[-1]) for iri, _ in listed]))
