"""`/validate`: the validation service, API-compatible with the FAIRtracks validation server.

Routes (the FAIRtracks validator's, same request and answer shapes; see `answers`):
- `POST /validate`: a JSON body, one document → one answer;
- `POST /validate/array`: a JSON array of documents → a list of answers;
- `POST /validate/archive`: a zip or tar (plain, gzip, bzip2, xz) body → one answer per `.json`
  member, named by its path in the archive;
- `POST /validate/multipart`: form files (JSON documents or archives, any field name) → one
  answer per document, archive members named `upload::member`;
- `GET /validate`: the validation page for people; `GET /validate/openapi.json` and
  `GET /validate/api` (Swagger UI, served from this package): the API's description.

`Accept: text/turtle` or `application/ld+json` (or `?format=turtle|jsonld`) answers with the
W3C `sh:ValidationReport` instead (one per document). Documents are validated against the
server's current snapshot, read-only, which gives the ontologies and the published collections
that cross-document references and uniqueness are checked against; nothing sent is stored.
Limits (settings `FAIRTRACKS_LD_VALIDATE_MAX_*`): body size, archive members and decompressed
bytes per request; past them the answer is 413.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from fairtracks_ld.mapping.prepare import MappingError, Prepared
from fairtracks_ld.models import prepare_document
from fairtracks_ld.validation import DocumentReport, Validator
from fairtracks_ld.web.answers import answer, fatal, unreadable
from fairtracks_ld.web.negotiation import choose, not_acceptable
from fairtracks_ld.web.uploads import (
    Budget,
    Limits,
    TooLarge,
    Upload,
    archive_kind,
    parse_json,
    read_archive,
)
from fairtracks_ld.web.validate_openapi import openapi

blueprint = Blueprint("validate", __name__, url_prefix="/validate")
JSON = "application/json"
RDF = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD}
OFFERS = [JSON, *RDF]
DCT_SOURCE = "http://purl.org/dc/terms/source"
DRAIN_BYTES = 64 * 1024 * 1024  # read (and drop) this much of a refused body, so the client
# gets the 413 instead of a reset connection
_LOCK = threading.Lock()
_log = logging.getLogger(__name__)
Checked = tuple[Upload, DocumentReport | None]


def _limits() -> Limits:
    settings = current_app.config["SETTINGS"]
    return Limits(settings.validate_max_body, settings.validate_max_members,
                  settings.validate_max_unpacked)


@blueprint.before_request
def _cap_body() -> None:
    request.max_content_length = _limits().body_bytes


def _too_large_answer(message: str) -> Response:
    stream = request.environ.get("wsgi.input")
    drained = 0
    while stream is not None and drained < DRAIN_BYTES:
        try:
            chunk = stream.read(65536)
        except (OSError, ValueError):
            break
        if not chunk:
            break
        drained += len(chunk)
    body = fatal(message)
    return _json([body] if request.path != blueprint.url_prefix else body, 413)


@blueprint.errorhandler(RequestEntityTooLarge)
def _body_too_large(_error: RequestEntityTooLarge) -> Response:
    return _too_large_answer(f"the request body is larger than the {_limits().body_bytes} bytes "
                             "this service accepts")


@blueprint.errorhandler(TooLarge)
def _unpacked_too_large(error: TooLarge) -> Response:
    return _too_large_answer(f"refused: {error}")


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=JSON)


# ---- validating -------------------------------------------------------------------------------


def validator() -> Validator:
    """One validator per opened snapshot (read-only: the primary store is never opened)."""
    store = current_app.extensions["snapshots"].store()
    with _LOCK:
        cached = current_app.extensions.get("validator")
        if cached is None or cached[0] is not store:
            cached = current_app.extensions["validator"] = (store, Validator(store))
    return cached[1]


def check(uploads: list[Upload]) -> list[Checked]:
    """Validate every readable upload against the current snapshot. The documents of one
    request are validated together, as if published together (a local_id used in two of them
    is reported), when they can be: one model, distinct collections; otherwise each alone."""
    checker = validator()
    reports: dict[int, DocumentReport] = {}
    mapped: dict[str, list[tuple[int, Prepared, Upload]]] = {}
    for index, upload in enumerate(uploads):
        if upload.error is not None:
            continue
        try:
            prepared = prepare_document(upload.document, checker.base)
        except MappingError:  # the validator words it (as one finding)
            reports[index] = _guarded(lambda u=upload: checker.document(u.document, u.name),
                                      upload)
            continue
        except Exception:
            _log.exception("mapping %s", upload.name)
            upload.error = "the document could not be mapped (logged on the server)"
            continue
        mapped.setdefault(prepared.model, []).append((index, prepared, upload))
    for group in mapped.values():
        try:
            together = checker.batch([(p, u.document, u.name) for _, p, u in group])
        except ValueError:  # two versions of one collection: each alone
            together = [_guarded(lambda p=p, u=u: checker.prepared(p, u.document, u.name), u)
                        for _, p, u in group]
        except Exception:
            _log.exception("validating %d documents together", len(group))
            together = [_guarded(lambda p=p, u=u: checker.prepared(p, u.document, u.name), u)
                        for _, p, u in group]
        for (index, _, _), report in zip(group, together, strict=True):
            reports[index] = report
    return [(upload, reports.get(index)) for index, upload in enumerate(uploads)]


def _guarded(run: Callable[[], DocumentReport], upload: Upload) -> DocumentReport | None:
    """A validator bug must not become a traceback for the provider."""
    try:
        return run()
    except Exception:
        _log.exception("validating %s", upload.name)
        upload.error = "the validator failed on this document (logged on the server)"
        return None


def respond(checked: list[Checked], single: bool = False) -> Response:
    """The answers in the negotiated form: the FAIRtracks validator's JSON, or SHACL reports."""
    media = choose(OFFERS)
    if media is None:
        return not_acceptable(OFFERS)
    answers = [unreadable(u) if r is None else answer(r, u.document) for u, r in checked]
    if media == JSON:
        response = _json(answers[0] if single else answers)
    else:
        unmapped = [a for (_, r), a in zip(checked, answers, strict=True)
                    if r is None or r.report is None]
        if unmapped:  # no RDF, so no sh:ValidationReport: say why in the JSON answer
            return _json(unmapped[0] if single else unmapped, 422)
        response = Response(_shacl([r for _, r in checked if r is not None], RDF[media]),
                            mimetype=media)
    response.headers["Vary"] = "Accept"
    return response


def _shacl(reports: list[DocumentReport], fmt: ox.RdfFormat) -> bytes:
    """The W3C reports; with several documents each report names its file (dct:source)."""
    if len(reports) == 1:
        return reports[0].shacl_report(fmt)
    triples: list[ox.Triple] = []
    for report in reports:
        own = list(report.report.triples()) if report.report is not None else []
        triples += own
        if own:
            triples.append(ox.Triple(own[0].subject, ox.NamedNode(DCT_SOURCE),
                                     ox.Literal(report.source)))
    prefixes = {"sh": "http://www.w3.org/ns/shacl#", "dct": "http://purl.org/dc/terms/"}
    return ox.serialize(triples, format=fmt, prefixes=prefixes) or b""


# ---- routes -----------------------------------------------------------------------------------


@blueprint.route("", methods=["GET"])
def page() -> str:
    return render_template("validate.html", limits=_limits())


@blueprint.route("", methods=["POST"])
def validate_one() -> Response:
    upload = parse_json("(inline0)", request.get_data())
    if upload.error is not None:
        return _json(fatal("There were problems processing incoming JSON (is it a valid "
                           f"one?): {upload.error}"), 400)
    return respond(check([upload]), single=True)


@blueprint.route("/array", methods=["POST"])
def validate_array() -> Response:
    parsed = parse_json("(inline)", request.get_data())
    if parsed.error is not None or not isinstance(parsed.document, list):
        why = parsed.error or "the body is not a JSON array of documents"
        return _json([fatal("There were problems processing incoming JSON array (is it a "
                            f"valid one?): {why}")], 400)
    budget = Budget(_limits())
    uploads = []
    for index, document in enumerate(parsed.document):
        budget.member()
        uploads.append(Upload(f"(inline{index})", document))
    return respond(check(uploads))


@blueprint.route("/archive", methods=["POST"])
def validate_archive() -> Response:
    data = request.get_data()
    if archive_kind(data) is None:
        return _json([fatal("Unsupported or mis-identified input archive (size "
                            f"{len(data)}): send a zip or a tar (plain, gzip, bzip2 or xz)")],
                     400)
    uploads = read_archive(data, Budget(_limits()))
    if not uploads:
        return _json([fatal("no .json member in the archive")], 400)
    return respond(check(uploads))


@blueprint.route("/multipart", methods=["POST"])
def validate_multipart() -> Response:
    budget = Budget(_limits())
    uploads: list[Upload] = []
    for field_name in request.files:
        for storage in request.files.getlist(field_name):
            budget.member()
            name = storage.filename or field_name
            content = storage.read()
            if archive_kind(content) is not None:
                uploads += read_archive(content, budget, prefix=f"{name}::")
            else:
                budget.take(len(content))
                uploads.append(parse_json(name, content))
    if not uploads:
        return _json([fatal("There were problems processing incoming files from form: no "
                            "file was sent (multipart/form-data, field 'file')")], 400)
    return respond(check(uploads))


@blueprint.route("/openapi.json")
def openapi_json() -> Response:
    return _json(openapi(_limits()))


@blueprint.route("/api")
def api_page() -> str:
    return render_template("validate_api.html")
