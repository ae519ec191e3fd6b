"""The parts of a request every SPARQL or dereferencing request reads, each computed once.

Werkzeug's `request.form`, `request.url_root` and `request.accept_mimetypes` are general and
cost tens of microseconds each (stream wrappers, IRI re-encoding, header parsing); on the
endpoint's cheapest requests that was a fifth of the server's CPU. Here the same values come
from the WSGI environ: the parameters read once per request (the form body parsed as Werkzeug
parses it: `parse_qsl`, undecodable escapes kept as written) and passed on, and the site root
cached per distinct Host header (clients send few distinct ones).
"""

from __future__ import annotations

import threading
from typing import NamedTuple
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  registers the "werkzeug.url_quote" codec error handler
from cachetools import LRUCache
from flask import request

FORM = "application/x-www-form-urlencoded"
_urls: LRUCache = LRUCache(maxsize=64)  # a few hosts name one server
_lock = threading.Lock()


class Fields(NamedTuple):
    """A request's parameters: the query string's and, for a form POST, the body's."""

    args: dict[str, list[str]]
    form: dict[str, list[str]]

    def all(self, name: str) -> list[str]:
        """Every value of `name`, the query string's first."""
        return self.args.get(name, []) + self.form.get(name, [])


def fields() -> Fields:
    """The request's parameters, read once (call it once per request and pass it on)."""
    is_form = (request.mimetype or "").lower() == FORM
    return Fields(request.args.to_dict(flat=False), _form_body() if is_form else {})


def _form_body() -> dict[str, list[str]]:
    """A form body's fields, parsed as Werkzeug's `request.form` parses them; a body that is
    not UTF-8 reads as no fields, as there."""
    try:
        pairs = parse_qsl(request.get_data().decode(), keep_blank_values=True,
                          errors="werkzeug.url_quote")
    except ValueError:
        return {}
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        found.setdefault(name, []).append(value)
    return found


def site_root() -> str:
    """`request.url_root` (scheme, host, script root), computed once per distinct environ."""
    return _url("root")


def host_root() -> str:
    """`request.host_url` (scheme and host), computed once per distinct environ."""
    return _url("host")


def _url(kind: str) -> str:
    """Werkzeug's URL of `kind`, cached by the environ values it is built from (scheme, Host
    header, server name and port, script root)."""
    environ = request.environ
    key = (kind, environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"),
           environ.get("SERVER_NAME"), environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME"))
    with _lock:
        url = _urls.get(key)
    if url is None:
        url = request.url_root if kind == "root" else request.host_url
        with _lock:
            _urls[key] = url
    return url
