"""form_field.only_field reads a form body's only field exactly as parse_qsl with Werkzeug's
error handler reads it (what the Flask routes see), on generated text: valid and stray escapes,
`+`, backslashes, non-ASCII characters, undecodable bytes."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, quote_plus

from fairtracks_ld.web.form_field import only_field

PIECES = ["%41", "%4a", "%4A", "%e2%82%ac", "%E2%82", "%FF", "%", "%4", "%zz", "%%41", "+",
          "\\", "\\x41", "\\%41", "a", "Z", "0", " ", "é", "€", "%0A", "%5C", "%25", "=", "%26",
          "%EF%BF%BD", "<", ">", "%3C", "?", "#"]


def werkzeug_reading(text: str) -> str | None:
    pairs = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    return pairs[0][1] if len(pairs) == 1 and pairs[0][0] == "query" else None


def test_generated_bodies_read_as_parse_qsl_reads_them():
    rng = random.Random(7)
    for _ in range(20_000):
        text = "query=" + "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 12)))
        assert only_field(text, "query") == werkzeug_reading(text), text


def test_an_encoded_query_comes_back():
    query = 'PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\nDESCRIBE <http://x/a b\\c%>'
    text = "query=" + quote_plus(query)
    assert only_field(text, "query") == query == werkzeug_reading(text)


def test_other_fields_are_not_read():
    for text in ("query=a&format=json", "format=json", "query=a;b", "queryx=a", ""):
        assert only_field(text, "query") is None
