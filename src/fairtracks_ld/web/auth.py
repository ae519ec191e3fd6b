"""Admin authentication for writes: `Authorization: Bearer <token>` (RFC 6750), nothing else.

The token comes from `FAIRTRACKS_LD_ADMIN_TOKEN_FILE` (read again on every write, so replacing
the file rotates the token without a restart) or else `FAIRTRACKS_LD_ADMIN_TOKEN`. Tokens are
compared in constant time (digests of equal length, `hmac.compare_digest`). Without a configured
token the server is read-only (403). A missing or wrong credential gets 401 with
`WWW-Authenticate: Bearer realm="fairtracks-ld"`, plus `error="invalid_token"` when one was sent.
Every accepted write is logged (who, what, when) to the `fairtracks_ld.audit` logger, which the
application sends to the server's error log.

Routes that write use `@admin_required`, or call `authenticate()` where the write is decided
inside the view (SPARQL Update shares `/sparql` with queries).

Data providers have tokens of their own, scoped to collections, in the submitters file
(`FAIRTRACKS_LD_SUBMITTERS_FILE`, TOML, re-read whenever it changes: rotate a token by editing
it, no restart):

    [submitters.alice]
    token_sha256 = "9f86d08…"       # hex SHA-256 of the token (or `token = "…"`, less safe)
    collections = ["encode", "blueprint"]   # or ["*"]: every collection

`submitter()` answers who sent the request (the admin token counts as a submitter of every
collection) or the refusal; every submitter's digest is compared, in constant time each.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Response, current_app, request

from fairtracks_ld.web.errors import error_response

REALM = "fairtracks-ld"
audit_log = logging.getLogger("fairtracks_ld.audit")


def configured_token() -> str | None:
    """The admin token as configured now (the file is read on each call)."""
    settings = current_app.config["SETTINGS"]
    if settings.admin_token_file is not None:
        try:
            token = settings.admin_token_file.read_text(encoding="utf-8").strip()
        except OSError as failure:
            audit_log.error("admin token file %s cannot be read: %s", settings.admin_token_file,
                            failure)
            return None
        return token or None
    return settings.admin_token


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _challenge(message: str, given: bool) -> Response:
    response = error_response(401, message)
    error = ', error="invalid_token"' if given else ""
    response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"{error}'
    return response


def _bearer(needs: str) -> str | Response:
    """The request's Bearer credentials, or the 401 answer when it has none (RFC 6750: the
    scheme is case-insensitive; nothing but `Bearer <token>` is accepted)."""
    header = request.headers.get("Authorization")
    if header is None:
        return _challenge(f"{needs}: Authorization: Bearer <token>", given=False)
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return _challenge("the Authorization header must read 'Bearer <token>'", given=True)
    return credentials


def authenticate() -> Response | None:
    """None when the request carries the admin token; otherwise the response refusing it."""
    expected = configured_token()
    if expected is None:
        return error_response(403, "this server is read-only: no admin token is configured "
                                   "(FAIRTRACKS_LD_ADMIN_TOKEN or FAIRTRACKS_LD_ADMIN_TOKEN_FILE)")
    credentials = _bearer("this request writes and needs the admin token")
    if isinstance(credentials, Response):
        return credentials
    if not hmac.compare_digest(_digest(credentials), _digest(expected)):
        return _challenge("the admin token is not valid", given=True)
    return None


def audit(action: str, detail: str) -> None:
    """Log an accepted write: who (client address, token fingerprint), what, when."""
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    audit_log.info("write at %s by %s (token %s): %s %s",
                   datetime.now(UTC).isoformat(timespec="seconds"), request.remote_addr,
                   _digest(token).hex()[:8], action, " ".join(detail.split())[:500])


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for routes that write: only the admin token gets through."""
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        refused = authenticate()
        if refused is not None:
            return refused
        audit(f"{request.method} {request.path}", "")
        return view(*args, **kwargs)

    return guarded


# ---- data providers --------------------------------------------------------------------------

EVERY_COLLECTION = "*"


@dataclass(frozen=True)
class Submitter:
    """A data provider: a name and the collections (local ids) they may publish or withdraw."""

    name: str
    collections: frozenset[str]

    def may(self, collection: str) -> bool:
        return EVERY_COLLECTION in self.collections or collection in self.collections


class SubmittersFileError(ValueError):
    """The submitters file cannot be used (unreadable, not TOML, an entry without a token)."""


_SUBMITTERS: dict[Path, tuple[tuple[int, int, int], list[tuple[bytes, Submitter]]]] = {}


def read_submitters(path: Path) -> list[tuple[bytes, Submitter]]:
    """(token digest, submitter) pairs of the file, re-read only when the file changed."""
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        cached = _SUBMITTERS.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("submitters", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as failure:
        raise SubmittersFileError(f"submitters file {path}: {failure}") from None
    entries = []
    for name, entry in table.items():
        if not isinstance(entry, dict):
            raise SubmittersFileError(f"submitters file {path}: [submitters.{name}] is not a table")
        if isinstance(entry.get("token_sha256"), str):
            try:
                digest = bytes.fromhex(entry["token_sha256"].strip())
            except ValueError:
                digest = b""
            if len(digest) != hashlib.sha256().digest_size:
                raise SubmittersFileError(f"submitters file {path}: {name}: token_sha256 must "
                                          "be 64 hex digits")
        elif isinstance(entry.get("token"), str) and entry["token"].strip():
            digest = _digest(entry["token"].strip())
        else:
            raise SubmittersFileError(f"submitters file {path}: {name} has no token_sha256")
        collections = entry.get("collections", [])
        if not isinstance(collections, list) or not all(isinstance(c, str) for c in collections):
            raise SubmittersFileError(f"submitters file {path}: {name}: collections must be a "
                                      "list of collection ids")
        entries.append((digest, Submitter(name, frozenset(collections))))
    _SUBMITTERS[path] = (stamp, entries)
    return entries


def submitter() -> Submitter | Response:
    """Who sent this request (a submitter of the submitters file, or the admin), or the
    response refusing it: 401 without or with a wrong token, 403 when no tokens are set up."""
    settings = current_app.config["SETTINGS"]
    entries: list[tuple[bytes, Submitter]] = []
    if settings.submitters_file is not None:
        try:
            entries = list(read_submitters(settings.submitters_file))
        except SubmittersFileError as failure:
            audit_log.error("%s", failure)
            return error_response(503, "the server cannot read its submitters file; "
                                       "tell its operator")
    admin = configured_token()
    if admin is not None:
        entries.append((_digest(admin), Submitter("admin", frozenset({EVERY_COLLECTION}))))
    if not entries:
        return error_response(403, "this server takes no submissions: no submitter tokens are "
                                   "configured (FAIRTRACKS_LD_SUBMITTERS_FILE)")
    credentials = _bearer("submitting or withdrawing needs your token")
    if isinstance(credentials, Response):
        return credentials
    given = _digest(credentials)
    found = None
    for digest, who in entries:  # every entry compared: the time does not say which matched
        if hmac.compare_digest(given, digest) and found is None:
            found = who
    if found is None:
        return _challenge("the token is not valid", given=True)
    return found
