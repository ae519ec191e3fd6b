"""Errors are answers: every error is a short plain-text or JSON body naming the problem.

The body follows `Accept`: JSON (`{"status", "error", "message"}`) when the client prefers
`application/json`, plain text otherwise (also for SPARQL clients, whose result media types are
neither). Flask's own errors (404, 405, 413, ...) get the same treatment instead of HTML pages,
and an unexpected exception becomes a 500 with no traceback in the body (it goes to the log).
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("fairtracks_ld.web")
JSON_TYPES = ("application/json", "application/problem+json")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/plain", *JSON_TYPES], default="text/plain")
    return best in JSON_TYPES


def error_response(status: int, message: str) -> Response:
    """An error answer in plain text or JSON, as the request's `Accept` prefers."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    if _wants_json():
        body = json.dumps({"status": status, "error": title, "message": message})
        response = Response(body + "\n", status=status, mimetype="application/json")
    else:
        response = Response(message + "\n", status=status, mimetype="text/plain")
    response.headers["Vary"] = "Accept"  # the body's format follows Accept
    return response


def register(app: Flask) -> None:
    """Answer Flask's errors and unexpected exceptions with error_response."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code is None or error.code < 400:
            return error.get_response()
        response = error_response(error.code, f"{error.code} {error.name}: {error.description}")
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return error_response(500, "500 Internal Server Error: the server failed to answer "
                                   "this request; the error is in the server's log")
