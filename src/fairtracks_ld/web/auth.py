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
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
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


def authenticate() -> Response | None:
    """None when the request carries the admin token; otherwise the response refusing it."""
    expected = configured_token()
    if expected is None:
        return error_response(403, "this server is read-only: no admin token is configured "
                                   "(FAIRTRACKS_LD_ADMIN_TOKEN or FAIRTRACKS_LD_ADMIN_TOKEN_FILE)")
    header = request.headers.get("Authorization")
    if header is None:
        return _challenge("this request writes and needs the admin token: "
                          "Authorization: Bearer <token>", given=False)
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return _challenge("the Authorization header must read 'Bearer <token>'", given=True)
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
