"""web.request_parts reads what Werkzeug's `request.form`, `url_root` and `host_url` read, for
the bodies and hosts clients send (the endpoint's cheap path must not change any answer)."""

from __future__ import annotations

import pytest
from flask import Flask, request

from fairtracks_ld.web.negotiation import choose
from fairtracks_ld.web.request_parts import fields, host_root, site_root

FORM = "application/x-www-form-urlencoded"
BODIES = [
    b"query=SELECT+%2A+WHERE+%7B%3Fs+%3Fp+%3Fo%7D",
    b"query=a&query=b&default-graph-uri=http%3A%2F%2Fex%2Fg&format=json",
    b"query=&empty&=x&update=INSERT+DATA+%7B%7D",
    b"query=%E2%9C%93+caf%C3%A9",  # UTF-8 escapes
    b"query=%FF%FEbad",  # escapes that are not UTF-8: kept as written
    b"query=raw \xff bytes",  # a body that is not UTF-8: no fields
    b"a=1;b=2&c=%3B",
    b"",
]


@pytest.fixture(scope="module")
def app() -> Flask:
    return Flask(__name__)


@pytest.mark.parametrize("body", BODIES)
def test_form_fields_are_werkzeugs(app, body):
    with app.test_request_context("/sparql?format=csv&query=q", method="POST", data=body,
                                  content_type=FORM):
        found = fields()
    with app.test_request_context("/sparql?format=csv&query=q", method="POST", data=body,
                                  content_type=FORM):
        expected = {name: request.form.getlist(name) for name in request.form}
        assert found.args == {"format": ["csv"], "query": ["q"]}
    assert found.form == expected
    assert found.all("query") == ["q", *expected.get("query", [])]


def test_a_body_that_is_not_a_form_has_no_fields(app):
    with app.test_request_context("/sparql", method="POST", data=b"query=x",
                                  content_type="application/sparql-query"):
        assert fields().form == {}
        assert request.get_data() == b"query=x"  # still readable as the query


@pytest.mark.parametrize(("base", "script"), [
    ("http://localhost/", ""),
    ("http://127.0.0.1:8000/", ""),
    ("https://example.org/", "/ld"),
    ("http://[::1]:8080/", "/a b"),
    ("http://xn--caf-dma.example/", ""),
])
def test_site_and_host_roots_are_werkzeugs(app, base, script):
    for _ in range(2):  # the second time from the cache
        with app.test_request_context("/sparql", base_url=base.rstrip("/") + script):
            assert (site_root(), host_root()) == (request.url_root, request.host_url)


@pytest.mark.parametrize(("accept", "expected"), [
    ("", "text/html"),
    ("text/turtle", "text/turtle"),
    ("text/turtle;q=0.5, application/ld+json", "application/ld+json"),
    ("application/n-triples;q=0.9, text/turtle;q=0.91", "text/turtle"),
    ("text/*", "text/html"),
    ("image/png", None),
])
def test_negotiation_is_cached_per_accept_header(app, accept, expected):
    offers = ["text/html", "text/turtle", "application/ld+json", "application/n-triples"]
    for _ in range(2):
        with app.test_request_context("/x", headers={"Accept": accept} if accept else {}):
            assert choose(offers) == expected
