"""`/resolve/{curie}`: a global identifier (`global_id`, e.g. the standard's `fairtracks:…` track
identifiers) → the object that declares it, in the current view.

One object declares it: 303 See Other to its IRI. None: 404. Several (the same global_id on two
objects, e.g. a study and an experiment, or one track in two collections): 300 Multiple Choices
with the candidates, as an HTML list or JSON by `Accept`. The lookup is one index scan
(the object position of `ft:global_id`), so it costs the same on any store size.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request

from fairtracks_ld.mapping.namespaces import FT, RDF_TYPE
from fairtracks_ld.store import TrackStore
from fairtracks_ld.web import view
from fairtracks_ld.web.negotiation import HTML, choose, not_acceptable

blueprint = Blueprint("resolve", __name__)

JSON = "application/json"
OFFERS = [HTML, JSON]
GLOBAL_ID = ox.NamedNode(FT + "global_id")
LABELS = [ox.NamedNode(FT + key) for key in ("label_short", "study_name", "local_id")]


def candidates(store: TrackStore, curie: str) -> list[dict[str, str | None]]:
    """The objects of the current view that declare `curie` as their global_id, by IRI."""
    found = {t.subject.value for t in view.triples(store, None, GLOBAL_ID, ox.Literal(curie))
             if isinstance(t.subject, ox.NamedNode)}
    return [{"iri": iri, "type": _type(store, iri), "label": _label(store, iri)}
            for iri in sorted(found)]


def _type(store: TrackStore, iri: str) -> str | None:
    for triple in view.triples(store, ox.NamedNode(iri), ox.NamedNode(RDF_TYPE)):
        if triple.object.value.startswith(FT):
            return triple.object.value[len(FT):]
    return None


def _label(store: TrackStore, iri: str) -> str | None:
    for predicate in LABELS:
        for triple in view.triples(store, ox.NamedNode(iri), predicate):
            return triple.object.value
    return None


@blueprint.route("/resolve/<path:_curie>")
def resolve(_curie: str) -> Response:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    curie = unquote(urlsplit(raw).path.split("/resolve/", 1)[1])  # percent-encoding undone once
    store = current_app.extensions["snapshots"].store()
    found = candidates(store, curie)
    if not found:
        return Response(f"404 Not Found: no object in this dataset declares the global_id "
                        f"{curie}\n", status=404, mimetype="text/plain")
    if len(found) == 1:
        response = Response(status=303)
        response.headers["Location"] = found[0]["iri"]
        return response
    media = choose(OFFERS)
    if media is None:
        return not_acceptable(OFFERS)
    if media == JSON:
        body = json.dumps({"global_id": curie, "candidates": found}, indent=1,
                          ensure_ascii=False)
    else:
        body = render_template("resolve.html", curie=curie, candidates=found)
    response = Response(body, status=300, mimetype=media)
    response.headers["Vary"] = "Accept"
    return response
