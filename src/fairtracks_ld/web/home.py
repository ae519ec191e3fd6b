"""The home page: what this server holds and where to go next."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from fairtracks_ld import reasoning
from fairtracks_ld.store import TrackStore, VersionInfo
from fairtracks_ld.web import schema_org

blueprint = Blueprint("home", __name__)


@blueprint.route("/")
def index() -> str:
    store = current_app.extensions["snapshots"].store()
    collections: dict[str, list[VersionInfo]] = {}
    for version in store.versions():
        if version.current:
            collections.setdefault(version.collection, []).append(version)
    names = collection_names(store, sorted(collections))
    listed = [(iri, versions[-1], len(versions), names.get(iri))
              for iri, versions in sorted(collections.items())]
    return render_template("home.html", collections=listed, ontologies=store.ontologies(),
                           base=store.base, catalog=schema_org.catalog(
                               store.base, [(iri, names.get(iri) or iri.rsplit("/", 1)[-1])
                                            for iri, *_ in listed]))


def collection_names(store: TrackStore, collections: list[str]) -> dict[str, str]:
    """Each collection's name (`ft:short_name`: a provider's, or an Ensembl release's
    "Ensembl release 89"), where it has one."""
    if not collections:
        return {}
    rows = store.query(f"SELECT ?c ?n WHERE {{ {reasoning.values_clause('c', collections)} "
                       "?c ft:short_name ?n }")
    return {row[0].value: row[1].value for row in rows}
