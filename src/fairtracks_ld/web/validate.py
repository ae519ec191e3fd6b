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
bytes per request; past them the answer is 413. The validating itself (parsing, mapping, SHACL,
the answer) runs in validation worker processes behind admission control (see validation_pool,
validation_work): this module only reads the request within its limits and waits.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from fairtracks_ld.web.answers import fatal
from fairtracks_ld.web.clients import client_of
from fairtracks_ld.web.negotiation import choose, not_acceptable
from fairtracks_ld.web.uploads import (
    Budget,
    Limits,
    TooLarge,
    Upload,
    archive_kind,
    read_archive,
)
from fairtracks_ld.web.validate_openapi import openapi
from fairtracks_ld.web.validation_pool import ValidationPool, ValidationRefused
from fairtracks_ld.web.validation_work import JSON, RDF, Job

blueprint = Blueprint("validate", __name__, url_prefix="/validate")
OFFERS = [JSON, *RDF]
ARRIVED = "fairtracks_ld.arrived"  # request.environ key: when the request arrived (monotonic)
DRAIN_BYTES = 64 * 1024 * 1024  # read (and drop) this much of a refused body, so the client
# gets the 413 instead of a reset connection
_LOCK = threading.Lock()


def _limits() -> Limits:
    settings = current_app.config["SETTINGS"]
    return Limits(settings.validate_max_body, settings.validate_max_members,
                  settings.validate_max_unpacked)


@blueprint.before_request
def _cap_body() -> None:
    request.environ[ARRIVED] = time.monotonic()  # the time limit counts from here
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


# ---- validating (in the validation workers, see validation_pool) ---------------------------


def pool() -> ValidationPool:
    """This server process's validation workers (made on the first validation)."""
    with _LOCK:
        found = current_app.extensions.get("validation_pool")
        if found is None:
            settings = current_app.config["SETTINGS"]
            found = current_app.extensions["validation_pool"] = ValidationPool(
                settings.store, workers=settings.validate_workers,
                waiting=settings.validate_queue, per_client=settings.validations_per_client,
                client_queue=settings.validate_client_queue, excess=settings.validate_excess,
                timeout=settings.validate_timeout, max_memory=settings.validate_max_memory,
                niceness=settings.query_niceness)
    return found


def _validated(route: str, body: bytes = b"", uploads: list[Upload] | None = None) -> Response:
    """Hand the request to a validation worker and send its answer back."""
    arrived = request.environ.get(ARRIVED, time.monotonic())
    media = choose(OFFERS)
    if media is None:
        return not_acceptable(OFFERS)
    job = Job(route, media, _limits(), body, uploads)
    client = client_of(request.remote_addr, request.headers.get("X-Forwarded-For"),
                       current_app.extensions["trusted_proxies"])
    try:
        rendered = pool().run(job, client, arrived)
    except ValidationRefused as refused:
        response = _json(fatal(refused.message) if route == "one" else [fatal(refused.message)],
                         refused.status)
        if refused.retry_after is not None:
            response.headers["Retry-After"] = str(refused.retry_after)
        return response
    response = Response(rendered.body, status=rendered.status, mimetype=rendered.media)
    if rendered.vary:
        response.headers["Vary"] = "Accept"
    return response


# ---- routes -----------------------------------------------------------------------------------


@blueprint.route("", methods=["GET"])
def page() -> str:
    return render_template("validate.html", limits=_limits())


@blueprint.route("", methods=["POST"])
def validate_one() -> Response:
    return _validated("one", request.get_data())


@blueprint.route("/array", methods=["POST"])
def validate_array() -> Response:
    return _validated("array", request.get_data())


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
    return _validated("uploads", uploads=uploads)


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
                uploads.append(Upload(name, raw=content))
    if not uploads:
        return _json([fatal("There were problems processing incoming files from form: no "
                            "file was sent (multipart/form-data, field 'file')")], 400)
    return _validated("uploads", uploads=uploads)


@blueprint.route("/openapi.json")
def openapi_json() -> Response:
    return _json(openapi(_limits()))


@blueprint.route("/api")
def api_page() -> str:
    return render_template("validate_api.html")
