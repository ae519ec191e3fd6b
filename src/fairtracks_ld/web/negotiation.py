"""Content negotiation for RDF: `Accept` with q-values, `?format=`, or a file suffix."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import pyoxigraph as ox
from flask import Response, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from fairtracks_ld.web.errors import error_response

RDF_TYPES: dict[str, ox.RdfFormat] = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
}
HTML = "text/html"
SUFFIXES = {
    ".ttl": "text/turtle",
    ".jsonld": "application/ld+json",
    ".nt": "application/n-triples",
    ".rdf": "application/rdf+xml",
    ".nq": "application/n-quads",
    ".trig": "application/trig",
    ".html": HTML,
}
FORMATS = {
    "turtle": "text/turtle", "ttl": "text/turtle", "jsonld": "application/ld+json",
    "json-ld": "application/ld+json", "ntriples": "application/n-triples",
    "nt": "application/n-triples", "rdfxml": "application/rdf+xml", "xml": "application/rdf+xml",
    "nquads": "application/n-quads", "nq": "application/n-quads", "trig": "application/trig",
    "html": HTML,
}


def choose(offers: list[str], suffix_type: str | None = None) -> str | None:
    """The media type to answer with, or None (→ 406)."""
    if suffix_type:
        return suffix_type if suffix_type in offers else None
    wanted = request.args.get("format")
    if wanted:
        media = FORMATS.get(wanted.lower(), wanted)
        return media if media in offers else None
    return best_offer(tuple(offers), request.headers.get("Accept", ""))


@lru_cache(maxsize=256)
def best_offer(offers: tuple[str, ...], accept: str) -> str | None:
    """The best of `offers` for an `Accept` header: clients send few distinct headers, so
    each is parsed once per process."""
    accepted = parse_accept_header(accept, MIMEAccept)
    if not accepted:
        return offers[0]
    return accepted.best_match(offers)


def serialize(triples: Iterable[ox.Triple | ox.Quad], media: str,
              prefixes: dict[str, str] | None = None) -> bytes:
    return ox.serialize(list(triples), format=RDF_TYPES[media], prefixes=prefixes)


def rdf_response(triples: Iterable[ox.Triple], prefixes: dict[str, str] | None = None) -> Response:
    """Serialise triples in the negotiated RDF syntax (Turtle by default)."""
    offers = [t for t in RDF_TYPES if t != "application/n-quads"]
    media = choose(offers)
    if media is None:
        return not_acceptable(offers)
    response = Response(serialize(triples, media, prefixes), mimetype=media)
    response.headers["Vary"] = "Accept"
    return response


def not_acceptable(offers: list[str]) -> Response:
    return error_response(406, "406 Not Acceptable: this resource is available as "
                          + ", ".join(offers))
