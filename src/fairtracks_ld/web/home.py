"""The home page: what this server holds and where to go next."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

blueprint = Blueprint("home", __name__)


@blueprint.route("/")
def index() -> str:
    store = current_app.extensions["snapshots"].store()
    collections = {}
    for version in store.versions():
        if version.current:
            collections[version.collection] = version
    return render_template("home.html", collections=sorted(collections.items()),
                           ontologies=store.ontologies(), base=store.base)
