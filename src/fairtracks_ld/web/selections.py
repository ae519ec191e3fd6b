"""A search selection taken to genome browsers: a UCSC track hub and an IGV session.

The hub lives at `/hub/{token}/hub.txt`, `{token}` being the search's canonical query string
(base64url): the URL names the search, not a snapshot, so a browser reloading the hub gets the
current data; and UCSC resolves `genomes.txt` and `{genome}/trackDb.txt` relative to it, which a
query string would not survive.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from urllib.parse import parse_qs, urlencode

from flask import Blueprint, Response, current_app, request, url_for

from fairtracks_ld.search.engine import SearchError, parse_search, run_search
from fairtracks_ld.web import hubs
from fairtracks_ld.web.people import igv_genomes
from fairtracks_ld.web.search import bad_request, fetch_rows, index, request_args

blueprint = Blueprint("selections", __name__)
LIMIT = 1000  # tracks in one hub or session: more is unusable in a genome browser


def token_of(args: list[tuple[str, str]]) -> str:
    """The URL token of a search's canonical query (page and size dropped: a hub holds all)."""
    kept = [(k, v) for k, v in args if k not in ("page", "size")]
    return base64.urlsafe_b64encode(urlencode(kept).encode()).decode().rstrip("=") or "all"


def args_of(token: str) -> dict[str, list[str]]:
    if token == "all":
        return {}
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_",
                                validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SearchError("this hub address is not one this site made") from None
    return parse_qs(text, keep_blank_values=True)


def selection(args: dict[str, list[str]]) -> hubs.Selection:
    ix = index()
    search = parse_search(ix, args)
    result = run_search(ix, search, counts=False)
    if result.total > LIMIT:
        raise SearchError(f"the selection holds {result.total:,} tracks; a hub or session takes "
                          f"at most {LIMIT:,}: narrow the search")
    return hubs.select(fetch_rows(ix, result.matches))


def links(search_args: list[tuple[str, str]]) -> dict[str, str]:
    """The hub and session URLs of a search, and the genome browsers opening them."""
    hub = url_for("selections.hub_txt", token=token_of(search_args), _external=True)
    session = url_for("selections.igv_session", _external=True) + "?" + urlencode(
        [(k, v) for k, v in search_args if k not in ("page", "size")])
    return {"hub": hub, "session": session,
            "ucsc": "https://genome.ucsc.edu/cgi-bin/hgHubConnect?" + urlencode(
                {"hubUrl": hub, "hgHub_do_redirect": "on"}),
            "igv": "https://igv.org/app/?" + urlencode({"sessionURL": session})}


@blueprint.app_context_processor
def selection_links() -> dict[str, object]:
    """`selection_links(search.args())` in templates (the search page's browser links)."""
    return {"selection_links": links}


def _text(body: str) -> Response:
    return Response(body, mimetype="text/plain")


@blueprint.route("/hub/<token>/hub.txt")
def hub_txt(token: str) -> Response:
    try:
        args = args_of(token)
        parse_search(index(), args)
    except SearchError as error:
        return bad_request(str(error))
    text = " ".join(f"{k}={v}" for k, values in args.items() for v in values) or "all tracks"
    settings = current_app.config["SETTINGS"]
    name = "fairtracks_" + hashlib.sha1(token.encode()).hexdigest()[:12]
    return _text(hubs.hub_txt(name, "FAIRtracks",
                              f"FAIRtracks selection: {text}", settings.contact_email))


@blueprint.route("/hub/<token>/genomes.txt")
def genomes_txt(token: str) -> Response:
    try:
        found = selection(args_of(token))
    except SearchError as error:
        return bad_request(str(error))
    return _text(hubs.genomes_txt(found.genomes))


@blueprint.route("/hub/<token>/<genome>/trackDb.txt")
def trackdb_txt(token: str, genome: str) -> Response:
    try:
        found = selection(args_of(token))
    except SearchError as error:
        return bad_request(str(error))
    if genome not in found.genomes:
        return bad_request(f"the selection has no hub tracks on {genome}; genomes: "
                           f"{', '.join(sorted(found.genomes)) or 'none'}", 404)
    return _text(hubs.trackdb_txt(genome, found.genomes[genome], found.skipped))


@blueprint.route("/search/igv-session.json")
def igv_session() -> Response:
    """An IGV-Web / igv.js session of the selection, for one genome (`genome=`, needed when the
    selection spans several)."""
    try:
        found = selection(request_args(exclude=("genome",)))
    except SearchError as error:
        return bad_request(str(error))
    wanted = request.args.get("genome") or (next(iter(found.igv)) if len(found.igv) == 1
                                            else None)
    if wanted not in found.igv:
        return bad_request(f"choose a genome with genome=: the selection's IGV tracks are on "
                           f"{', '.join(sorted(found.igv)) or 'no genome IGV knows'}")
    options = igv_genomes().get(wanted)
    response = Response(json.dumps(hubs.igv_session(wanted, found.igv[wanted], options),
                                   indent=1), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="igv-session-{wanted}.json"'
    return response
