"""The value of a query string's or form body's only field, read as Werkzeug reads it, quickly.

A SPARQL query sent as a form is percent-encoded throughout (a DESCRIBE of one track carries
about thirty escapes), and `urllib.parse.unquote` decodes escapes one by one in Python: 15-20 µs
a request, a quarter of the front door's own work on a cold DESCRIBE. Text made only of ASCII
characters whose every `%` starts a valid escape is decoded in C instead (`codecs.escape_decode`,
as `pickle` reads protocol-0 strings, after `\\` is doubled and `%` becomes `\\x`); anything else
(non-ASCII text, a stray `%`) takes `parse_qsl` itself. Either way the result is `parse_qsl`'s
with Werkzeug's error handler (undecodable bytes kept as escapes), which tests/test_form_field.py
checks on generated text.
"""

from __future__ import annotations

import codecs
import re
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  registers the "werkzeug.url_quote" codec error handler

ERRORS = "werkzeug.url_quote"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def only_field(text: str, name: str) -> str | None:
    """The value of `name` (plain letters) when it is the only field of `text` (no `&` or
    `;`), decoded as `parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")`
    decodes it; None for any other text."""
    prefix = name + "="
    if not text.startswith(prefix) or "&" in text or ";" in text:
        return None
    value = text[len(prefix):].replace("+", " ")
    if "%" not in value:
        return value
    if not value.isascii() or _STRAY_PERCENT.search(value):
        pairs = parse_qsl(text, keep_blank_values=True, errors=ERRORS)
        return pairs[0][1] if len(pairs) == 1 else None
    raw = codecs.escape_decode(value.replace("\\", "\\\\").replace("%", "\\x").encode())[0]
    return raw.decode("utf-8", ERRORS)
