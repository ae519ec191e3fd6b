"""What happens to a request before Flask: its raw path, the request-line limit, answers
already sent for the current snapshot, replayed byte for byte, and the CORS headers of every
answer.

- **Raw path.** The application needs the request path as sent (percent-encoding is part of a
  minted IRI). granian, like the WSGI spec, hands over the decoded PATH_INFO only, so the path is
  re-encoded segment by segment as IRIs are minted (mapping.iris.encode_segment) into `RAW_URI`,
  the key gunicorn sets: a minted IRI comes back exactly, and a path sent with needless escapes
  (`encode%3AENC1`) finds the IRI it means. A `%2F` inside a segment reads as `/`: the resource
  routes find such an IRI by the path's other readings (mapping.iris.slash_readings).
- **Request line.** A request target longer than MAX_REQUEST_TARGET bytes is answered 414 in
  plain text (send long queries by POST).
- **Replayed answers.** An answer the application took from or put in its per-snapshot cache
  (it says `X-Cache`) is kept once more as the bytes on the wire, status and headers included,
  under everything the application read to make it (method, path, query string, Host, Accept,
  Content-Type, a small body). The same request again is answered from that copy without
  routing, negotiating or parsing a query: the same headers (ETag, Vary, Link, CORS ...), the
  same body, `X-Cache: hit`. Requests with `If-None-Match` or `Authorization`, and servers with
  a backend, always go to the application.
- **Direct answers.** A plain `DESCRIBE <iri>` at `/sparql` and a resource dereferenced as RDF
  are answered here without Flask, with the answer the application would send (see
  describe_direct); anything else goes to the application.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from fairtracks_ld.mapping.iris import encode_segment
from fairtracks_ld.web.describe_direct import DirectAnswers

MAX_REQUEST_TARGET = 8190  # bytes of path and query string, as nginx's and Apache's defaults
SMALL_BODY = 16 * 1024  # POST bodies up to this size can key a replayed answer
REPLAYED_METHODS = ("GET", "POST")
WIRE_SHARE = 16  # a replayed answer takes at most 1/16 of the cache's bytes
CORS = [("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Headers", "Accept, Content-Type, Authorization"),
        ("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")]

StartResponse = Callable[..., Any]
_PLAIN_PATH = re.compile(  # "/" then segments encode_segment keeps as they are, or empty ones
    r"(?:/(?:[A-Za-z0-9_~:-][A-Za-z0-9._~:-]*)?)*")


class Wire(NamedTuple):
    """An answer as sent: status line, headers (X-Cache already `hit`), body."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes


class FrontDoor:
    """A WSGI middleware in front of the Flask application (see the module's docstring)."""

    def __init__(self, app: Any, direct: bool = True) -> None:
        """`direct`: answer plain DESCRIBE and dereferencing here (see describe_direct)."""
        self.app = app
        self.cache = app.extensions["cache"]
        self.snapshots = app.extensions.get("snapshots")  # None with a backend
        self.direct = DirectAnswers(app) if direct and self.snapshots is not None else None
        self.body_limit = min(SMALL_BODY, app.config.get("MAX_CONTENT_LENGTH") or SMALL_BODY)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if "RAW_URI" not in environ:
            query = environ.get("QUERY_STRING", "")
            environ["RAW_URI"] = raw_path(environ.get("PATH_INFO", "")) + (
                "?" + query if query else "")
        if len(environ["RAW_URI"]) > MAX_REQUEST_TARGET:
            return _too_long(_with_cors(start_response))
        body = self._small_body(environ)
        key = self._key(environ, body)
        snapshot = ""
        if key is not None:
            try:
                snapshot = os.path.basename(self.snapshots.store().path)
            except FileNotFoundError:  # no snapshot: the application answers why
                return self.app(environ, _with_cors(start_response))
            kept = self.cache.get(snapshot, key)
            if kept is not None:
                start_response(kept.status, kept.headers)  # CORS headers included
                return [kept.body]
        direct = self.direct.answer(environ, body) if self.direct is not None else None
        if direct is not None:
            status, headers, answer = direct
            headers.extend(CORS)
            if key is not None and status.startswith("200 ") and \
                    any(n == "X-Cache" for n, _ in headers):  # as _keep keeps Flask's
                replay = [(n, "hit") if n == "X-Cache" else (n, v) for n, v in headers]
                self.cache.put(snapshot, key, Wire(status, replay, answer), WIRE_SHARE)
            start_response(status, headers)
            return [answer]
        if key is None:
            return self.app(environ, _with_cors(start_response))
        return self._keep(environ, _with_cors(start_response), snapshot, key)

    def _small_body(self, environ: dict[str, Any]) -> bytes | None:
        """A small POST body, read (the application gets a fresh stream of it); None for
        other requests."""
        if environ["REQUEST_METHOD"] != "POST" or self.snapshots is None:
            return None
        length = environ.get("CONTENT_LENGTH") or ""
        if not length.isdigit() or int(length) > self.body_limit:
            return None
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    def _key(self, environ: dict[str, Any], body: bytes | None) -> tuple | None:
        """Everything the answer depends on, or None for a request that is never replayed."""
        method = environ["REQUEST_METHOD"]
        if (self.snapshots is None or not self.cache.enabled or method not in REPLAYED_METHODS
                or "HTTP_IF_NONE_MATCH" in environ or "HTTP_AUTHORIZATION" in environ
                or (method == "POST" and body is None)):
            return None
        return ("wire", method, environ["RAW_URI"], environ.get("HTTP_HOST"),
                environ.get("wsgi.url_scheme"), environ.get("SCRIPT_NAME"),
                environ.get("HTTP_ACCEPT"), environ.get("CONTENT_TYPE"), body or b"")

    def _keep(self, environ: dict[str, Any], start_response: StartResponse, snapshot: str,
              key: tuple) -> Iterable[bytes]:
        """The application's answer; kept as a Wire when it is a cached or cacheable one."""
        sent: list[tuple[str, list[tuple[str, str]]]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            sent.append((status, headers))
            return start_response(status, headers, exc_info)

        answer = self.app(environ, capture)
        status, headers = sent[-1] if sent else ("", [])
        if not status.startswith("200 ") or not any(n == "X-Cache" for n, _ in headers):
            return answer
        try:
            body = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        replay = [(n, "hit") if n == "X-Cache" else (n, v) for n, v in headers]
        self.cache.put(snapshot, key, Wire(status, replay, body), WIRE_SHARE)
        return [body]


def _with_cors(start_response: StartResponse) -> StartResponse:
    """`start_response` adding the CORS headers every answer carries (any site may query)."""
    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        headers.extend(CORS)
        return start_response(status, headers, exc_info)

    return start


def raw_path(path_info: str) -> str:
    """The decoded path re-encoded as minted IRIs are (each segment by encode_segment); a path
    whose every segment needs no encoding (the common case) is itself."""
    if _PLAIN_PATH.fullmatch(path_info):
        return path_info
    return "/".join(encode_segment(segment) if segment else "" for segment in
                    path_info.split("/"))


def _too_long(start_response: StartResponse) -> list[bytes]:
    body = (f"414 URI Too Long: the request line is longer than {MAX_REQUEST_TARGET} bytes; "
            "send a long query with POST\n").encode()
    start_response("414 URI Too Long", [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(body)))])
    return [body]
