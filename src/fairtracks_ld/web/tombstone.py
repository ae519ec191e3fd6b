"""Tombstones: a withdrawn IRI answers 410 Gone saying what it was, when and why it was withdrawn.

An IRI is gone when a withdrawal (fairtracks_ld.withdrawal) covers it (the withdrawn document or
collection, or anything minted under it) or when it is described in a withdrawn document's
version graphs, and the current view no longer describes it. Browsers get an HTML page, machines
plain text or RDF (`prov:invalidatedAtTime`, `ft:withdrawal_reason`, `ft:withdrawn_by`, the
label it had), by `Accept`. The version graphs stay in the store: `GRAPH <version>` still
reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

import pyoxigraph as ox
from flask import Response, render_template

from fairtracks_ld.mapping.namespaces import FT, RDF_TYPE, XSD
from fairtracks_ld.store import TrackStore
from fairtracks_ld.web import view
from fairtracks_ld.web.negotiation import HTML, RDF_TYPES, SUFFIXES, choose, not_acceptable
from fairtracks_ld.withdrawal import AT, BY, REASON, WITHDRAWN, Withdrawal, withdrawals

OFFERS = [HTML, "text/plain", *RDF_TYPES]
LABELS = [FT + name for name in ("label_short", "short_name", "study_name", "local_id")] + [
    "http://www.w3.org/2000/01/rdf-schema#label"]
_CACHE: WeakKeyDictionary[TrackStore, list[Withdrawal]] = WeakKeyDictionary()


@dataclass(frozen=True)
class Tombstone:
    iri: str
    label: str | None
    withdrawal: Withdrawal


def _withdrawals(store: TrackStore) -> list[Withdrawal]:
    if not store.read_only:
        return withdrawals(store)
    if store not in _CACHE:  # a snapshot never changes: read its withdrawals once
        _CACHE[store] = withdrawals(store)
    return _CACHE[store]


def find(store: TrackStore, iri: str) -> Tombstone | None:
    """The tombstone of `iri`, or None when it was not withdrawn (or is current again)."""
    found = _withdrawals(store)
    if not found:
        return None
    node = ox.NamedNode(iri)
    for withdrawal in reversed(found):  # the latest withdrawal first
        collection = withdrawal.target.split("/document/", 1)[0]
        if not (iri == collection or iri.startswith((collection + "/", collection + "#"))):
            continue  # minted in another collection: nothing to look up
        graphs = [ox.NamedNode(g) for g in withdrawal.graphs]
        if withdrawal.covers(iri) or any(
                next(iter(store.ox.quads_for_pattern(node, None, None, g)), None)
                for g in graphs):
            if next(view.triples(store, node), None) is not None:
                return None  # still (or again) described by current data
            return Tombstone(iri, _label(store, node, graphs), withdrawal)
    return None


def find_with_suffix(store: TrackStore, iri: str, suffix_type: str | None
                     ) -> tuple[Tombstone, str | None] | None:
    """`find` for a requested path that may end with a format suffix (`.ttl`, …): the
    tombstone and the media type the suffix asks for."""
    stone = find(store, iri)
    if stone is not None:
        return stone, suffix_type
    for suffix, media in SUFFIXES.items():
        if suffix_type is None and iri.endswith(suffix):
            stone = find(store, iri[: -len(suffix)])
            return (stone, media) if stone is not None else None
    return None


def _label(store: TrackStore, node: ox.NamedNode, graphs: list[ox.NamedNode]) -> str | None:
    for predicate in LABELS:
        for graph in graphs:
            for quad in store.ox.quads_for_pattern(node, ox.NamedNode(predicate), None, graph):
                return quad.object.value
    return None


def _triples(stone: Tombstone) -> list[ox.Triple]:
    node = ox.NamedNode(stone.iri)
    w = stone.withdrawal
    triples = [
        ox.Triple(node, ox.NamedNode(RDF_TYPE), ox.NamedNode(WITHDRAWN)),
        ox.Triple(node, ox.NamedNode(AT),
                  ox.Literal(w.at, datatype=ox.NamedNode(XSD + "dateTime"))),
        ox.Triple(node, ox.NamedNode(REASON), ox.Literal(w.reason)),
        ox.Triple(node, ox.NamedNode(BY), ox.Literal(w.by)),
    ]
    if stone.label:
        triples.append(ox.Triple(node, ox.NamedNode(LABELS[-1]), ox.Literal(stone.label)))
    if stone.iri != w.target:
        triples.append(ox.Triple(node, ox.NamedNode(FT + "withdrawn_with"),
                                 ox.NamedNode(w.target)))
    triples += [ox.Triple(node, ox.NamedNode(FT + "withdrawn_version"), ox.NamedNode(g))
                for g in w.graphs]
    return triples


def text(stone: Tombstone) -> str:
    w = stone.withdrawal
    what = f"{stone.label} ({stone.iri})" if stone.label else stone.iri
    part = "" if stone.iri == w.target else f" with the {w.kind} {w.target}"
    return (f"410 Gone: {what} was withdrawn{part} on {w.at} by {w.by}.\n"
            f"Reason: {w.reason}\n"
            f"Its earlier versions stay in the store: "
            f"{', '.join(w.graphs) or 'none'} (SPARQL: GRAPH <version> {{ … }}).\n")


def answer(stone: Tombstone, suffix_type: str | None = None) -> Response:
    """The 410 answer in the negotiated form."""
    media = choose(OFFERS, suffix_type)
    if media is None:
        return not_acceptable(OFFERS)
    if media == HTML:
        body = render_template("tombstone.html", stone=stone, withdrawal=stone.withdrawal)
    elif media == "text/plain":
        body = text(stone)
    else:
        body = ox.serialize(_triples(stone), format=RDF_TYPES[media],
                            prefixes={"ft": FT, "prov": "http://www.w3.org/ns/prov#"})
    response = Response(body, status=410, mimetype=media)
    response.headers["Vary"] = "Accept"
    return response
