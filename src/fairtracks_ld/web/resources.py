"""Dereferencing: every minted IRI answers with its description, negotiated per request.

IRI pattern: direct content negotiation (no 303). `GET {iri}` answers HTML for browsers and
Turtle, JSON-LD (compacted with the project context, so a track reads like FAIRtracks JSON),
N-Triples, RDF/XML or N-Quads for machines, chosen by `Accept` (q-values), `?format=` or a suffix
(`.ttl`, `.jsonld`, `.nt`, `.rdf`, `.nq`, `.html`). Answers carry `Vary: Accept`, an ETag
(304 on `If-None-Match`) and `Content-Location`; unknown IRIs get 404, unsupported types 406.

A description holds the resource's triples and those of its nested nodes (`{iri}#…`, lists), in
the current view; HTML adds incoming links and ontology labels. Rendered answers are cached per
snapshot (see cache), so a resource asked for again costs about as much as a static page.
"""

from __future__ import annotations

import hashlib
import json
import os
from itertools import chain, islice
from urllib.parse import unquote, urlsplit

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request, url_for

from fairtracks_ld.mapping import annotations
from fairtracks_ld.mapping.context import load_context
from fairtracks_ld.mapping.iris import nested_prefix, slash_readings
from fairtracks_ld.mapping.namespaces import FT, RDF, RDF_TYPE
from fairtracks_ld.paths import CONTEXT_FILE, data_dir
from fairtracks_ld.reasoning import DESCENDS_FROM, FOUND_UNDER
from fairtracks_ld.store import REPORT_SUFFIX, TrackStore
from fairtracks_ld.web import people, signposting, summary, tombstone, view
from fairtracks_ld.web.cache import Answer, etag_of
from fairtracks_ld.web.errors import error_response
from fairtracks_ld.web.negotiation import HTML, RDF_TYPES, SUFFIXES, choose, not_acceptable
from fairtracks_ld.web.nested import closure, closure_quads
from fairtracks_ld.web.request_parts import host_root

blueprint = Blueprint("resources", __name__)

OFFERS = [HTML, *RDF_TYPES]
_SUFFIX_OF = {media: suffix for suffix, media in reversed(SUFFIXES.items())}  # the first one
INCOMING_LIMIT = 500
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
LABEL_SHORT = ox.NamedNode(FT + "label_short")
RDF_FIRST = ox.NamedNode(RDF + "first")
PREFIXES = {"ft": FT, "ftx": "https://w3id.org/fairtracks-ld/ext#",
            "xsd": "http://www.w3.org/2001/XMLSchema#", "obo": "http://purl.obolibrary.org/obo/",
            "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}


def _raw_path() -> str:
    """The request path exactly as sent (percent-encoding kept: it is part of the IRI)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    return urlsplit(raw).path


def describe(store: TrackStore, iri: str) -> list[ox.Triple]:
    """The resource's triples plus those of its nested nodes, in the current view."""
    triples = closure(store.ox, [ox.NamedNode(iri)], (nested_prefix(iri),), [ox.DefaultGraph()])
    return triples or catalog_entry(store, iri)


def description(store: TrackStore, iri: str) -> list[ox.Quad] | list[ox.Triple]:
    """`describe` for writing it (rdf_body): its triples as the quads read from the current
    view (the default graph), in the same order; `ox.serialize` writes the same bytes for
    them, without a copy of every term into a triple first."""
    quads = closure_quads(store.ox, [ox.NamedNode(iri)], (nested_prefix(iri),),
                          [ox.DefaultGraph()])
    return quads or catalog_entry(store, iri)


def catalog_entry(store: TrackStore, iri: str) -> list[ox.Triple]:
    """Graphs (document versions, ontologies, the closure, the catalog itself) are
    described by the catalog, which is not part of the data's default view."""
    catalog = ox.NamedNode(store.catalog)
    return [ox.Triple(q.subject, q.predicate, q.object)
            for q in store.ox.quads_for_pattern(ox.NamedNode(iri), None, None, catalog)
            ] or report_content(store, iri)


def report_content(store: TrackStore, iri: str) -> list[ox.Triple]:
    """A document version's validation report graph answers with the report it holds."""
    if not iri.endswith(REPORT_SUFFIX) or not store.has_graph(iri):
        return []
    return [quad.triple for quad in store.graph_quads(iri)]


def incoming(store: TrackStore, iri: str) -> list[tuple[ox.NamedNode, ox.NamedNode]]:
    """Links to the resource from the data, then from the catalog (which names, e.g., the
    collection of every document version: a collection no entity describes still resolves)."""
    node = ox.NamedNode(iri)
    from_data = (t for t in view.triples(store, obj=node) if isinstance(t.subject, ox.NamedNode))
    from_catalog = (q for q in store.ox.quads_for_pattern(None, None, node,
                                                          ox.NamedNode(store.catalog))
                    if isinstance(q.subject, ox.NamedNode))
    links = chain(from_data, from_catalog)
    return [(t.subject, t.predicate) for t in islice(links, INCOMING_LIMIT)]


def _etag(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


def _respond(body: bytes, media: str, location: str) -> Response:
    etag = _etag(body)
    if request.if_none_match.contains_weak(etag):  # RFC 9110: weak comparison
        response = Response(status=304)
    else:
        response = Response(body, mimetype=media)
    response.set_etag(etag)
    response.headers["Vary"] = "Accept"
    response.headers["Content-Location"] = location
    return response


def jsonld_compacted(triples: list[ox.Triple], iri: str) -> bytes:
    """JSON-LD framed on the resource and compacted with the project context, so nested
    objects sit where FAIRtracks JSON has them and a track reads like FAIRtracks JSON (its
    lists as arrays: their skolemised cells are blank nodes again for fromRdf)."""
    from pyld import jsonld

    blank = {cell: ox.BlankNode() for cell in list_cells(triples)}  # fromRdf makes @list of
    triples = [ox.Triple(blank.get(t.subject, t.subject), t.predicate,  # blank-node cells only
                         blank.get(t.object, t.object)) for t in triples] if blank else triples
    nquads = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode()
    expanded = jsonld.from_rdf(nquads, {"format": "application/n-quads", "useNativeTypes": True})
    compacted = jsonld.frame(expanded, {"@context": load_context(), "@id": iri},
                             {"omitGraph": True, "embed": "@always"})
    compacted["@context"] = url_for("resources.context", _external=True)
    return json.dumps(compacted, indent=2, ensure_ascii=False).encode()


def _incoming_rows(store: TrackStore, links_in: list[tuple[ox.NamedNode, ox.NamedNode]],
                   labels: dict[str, str]) -> list[tuple[str, str, str]]:
    """(subject, text, predicate) per link in; the text is the subject's label, else a track's
    short label, else its IRI's last segment decoded (`GENCODE M24`, not `GENCODE%20M24`)."""
    unlabelled = {s.value for s, _ in links_in if s.value not in labels}
    texts = dict(labels)
    for iri in unlabelled:
        short = next(view.triples(store, ox.NamedNode(iri), LABEL_SHORT), None)
        texts[iri] = short.object.value if short else unquote(iri.rsplit("/", 1)[-1])
    return [(s.value, texts[s.value], _short(p.value)) for s, p in links_in]


def _labels(store: TrackStore, iris: set[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    batch = getattr(store.ox, "prefetch_view", None)  # a backend (backend.dataset): one query
    if batch is not None:
        batch(iris, [RDFS_LABEL, LABEL_SHORT])  # the short label for links in
    for iri in iris:
        for triple in view.triples(store, ox.NamedNode(iri), RDFS_LABEL):
            labels[iri] = triple.object.value
            break
    return labels


@blueprint.route("/context.jsonld")
def context() -> Response:
    """The JSON-LD context, for anyone mapping FAIRtracks JSON themselves."""
    body = (data_dir("context") / CONTEXT_FILE).read_bytes()
    return _respond(body, "application/ld+json", "/context.jsonld")


@blueprint.route("/collection/<path:_rest>")
@blueprint.route("/graph/<path:_rest>")
def resource(_rest: str) -> Response:
    store = current_app.extensions["snapshots"].store()
    path = _raw_path()
    snapshot = os.path.basename(store.path)
    # everything the answer depends on besides the snapshot: links are absolute (host), and a
    # collection page shows the page of its tracks that `page` asks for
    media = choose(OFFERS)  # negotiated from Accept or ?format= (a suffix is read later)
    key = ("resource", host_root(), path, media, request.args.get("page"))
    etag = etag_of(snapshot, key)
    if request.if_none_match.contains_weak(etag):  # RFC 9110: weak comparison
        response = Response(status=304)
    else:
        failed: list[Response] = []

        def render() -> Answer | None:
            made = _render(store, path, media)
            if isinstance(made, Response):
                failed.append(made)
                return None
            return made

        answer, hit = current_app.extensions["cache"].answer(snapshot, key, render)
        if answer is None:
            return failed[0]
        response = Response(answer.body, mimetype=answer.media)
        response.headers["X-Cache"] = "hit" if hit else "miss"
        if answer.links:
            response.headers["Link"] = answer.links
        response.headers["Content-Location"] = content_location(path, answer.media)
    response.set_etag(etag)
    response.headers["Vary"] = "Accept"
    return response


def content_location(path: str, media: str) -> str:
    """The answer's own address: the path with the suffix of its media type."""
    suffix = _suffix_for(media)
    return path if path.endswith(suffix) else path + suffix


def _render(store: TrackStore, path: str, negotiated: str | None) -> Answer | Response:
    """The resource's description in the `negotiated` format (unless the path ends with a
    format suffix), or an error answer."""
    if negotiated == HTML:  # a backend: the page's first questions in one round trip
        summary.ask_ahead(store, "prefetch_page", store.base + path.lstrip("/"),
                          [FT + ref for ref in summary.REFS], summary.MAX_HOPS)
    iri, triples, suffix_type = _find(store, path)
    stone = tombstone.find_with_suffix(store, iri, suffix_type)
    if stone is not None:  # withdrawn: 410 Gone with what it was, when and why
        return tombstone.answer(*stone)
    media = suffix_type if suffix_type else negotiated
    # links to the resource: on its page, or as the proof that an undescribed IRI exists
    links_in = incoming(store, iri) if media == HTML or not triples else []
    if not triples and not links_in:
        return error_response(404, f"404 Not Found: no resource {iri} in this dataset")
    if media is None:
        return not_acceptable(OFFERS)
    if media == HTML:
        body = render_page(store, iri, triples, links_in).encode()
    elif media == "application/ld+json":
        body = jsonld_compacted(triples, iri)
    else:
        body = rdf_body(triples, media)
    return Answer(media, body, signposting.take_links())


def _find(store: TrackStore, path: str) -> tuple[str, list[ox.Triple], str | None]:
    """The IRI `path` names, its description and the media type of its format suffix (None:
    no suffix). A path the server received decoded may have lost a `%2F` inside a local id,
    so when it names nothing as it reads, its other readings are tried (`slash_readings`:
    only on this miss path, so a found IRI costs nothing more). Nothing found: the path's
    own IRI, no triples, no suffix."""
    for candidate in (path.lstrip("/"), *slash_readings(path)):
        iri = store.base + candidate
        triples = describe(store, iri)
        if triples:
            return iri, triples, None
        suffix, media = next(((s, m) for s, m in SUFFIXES.items() if iri.endswith(s)),
                             ("", None))
        if suffix and (triples := describe(store, iri[: -len(suffix)])):
            return iri[: -len(suffix)], triples, media
    return store.base + path.lstrip("/"), [], None


def rdf_body(triples: list[ox.Triple] | list[ox.Quad], media: str) -> bytes:
    """A description in an RDF syntax but JSON-LD (compacted: jsonld_compacted); its triples
    may be quads of the default graph (`description`), written as the same triples."""
    if media == "application/n-quads":
        return ox.serialize([ox.Quad(t.subject, t.predicate, t.object) for t in triples],
                            format=ox.RdfFormat.N_QUADS)
    return ox.serialize(triples, format=RDF_TYPES[media], prefixes=PREFIXES)


def _suffix_for(media: str) -> str:
    return _SUFFIX_OF[media]


def render_page(store: TrackStore, iri: str, triples: list[ox.Triple],
                links_in: list[tuple[ox.NamedNode, ox.NamedNode]]) -> str:
    """The HTML page: properties with labels, nested objects, links in and out."""
    triples = [*triples, *track_links(store, iri, triples)]
    iris = {t.object.value for t in triples if isinstance(t.object, ox.NamedNode)}
    iris |= {s.value for s, _ in links_in}
    labels = _labels(store, iris)
    edges: dict[object, list[ox.Triple]] = {}
    for triple in triples:
        edges.setdefault(triple.subject, []).append(triple)
    cells = list_cells(triples)  # shown as the lists they make, not as nested objects

    def value(obj: object) -> dict[str, object]:
        if isinstance(obj, ox.Literal):
            return {"kind": "literal", "text": obj.value}
        if obj in cells or isinstance(obj, ox.BlankNode):
            return {"kind": "list", "items": [value(item) for item in _list_items(edges, obj)]}
        text = obj.value
        return {"kind": "iri", "href": text, "label": labels.get(text),
                "internal": text.startswith(store.base), "short": _short(text)}

    def rows(subject: ox.NamedNode) -> list[tuple[str, dict[str, object]]]:
        return [(_short(t.predicate.value), value(t.object)) for t in edges.get(subject, [])
                if t.predicate.value != RDF_TYPE]

    subject = ox.NamedNode(iri)
    nested = [(node.value.split("#", 1)[1], rows(node)) for node in edges
              if isinstance(node, ox.NamedNode) and node != subject and node not in cells]
    types = [t.object.value for t in edges.get(subject, []) if t.predicate.value == RDF_TYPE]
    main = rows(subject)
    title = _title(main, iri)
    return render_template(
        "resource.html", iri=iri, types=[_short(t) for t in types], main=_ordered(main),
        nested=sorted(nested), labels=labels,  # the people's part may name it better
        **{"title": title, **people.page_context(store, iri, triples, describe,
                                                 request.args.get("page"), title)},
        incoming=_incoming_rows(store, links_in, labels),
        formats=[(suffix, media) for suffix, media in SUFFIXES.items() if media != HTML],
    )


def track_links(store: TrackStore, iri: str, triples: list[ox.Triple]) -> list[ox.Triple]:
    """A track's ancestor links (`ft:cell_type_ancestor`, …), listed on its page: not stored,
    read along their paths (`annotations.track_path`: track → experiment → sample → the
    annotation's term, then the class closure), walked pattern by pattern, level by level —
    index lookups locally; through a backend the entities reached by a reference and then the
    terms are described in one query each (an entity's description holds its nested annotation
    nodes, read whole: a backend answers a nested node's single pattern with a query of its own;
    the page's summary reads all of them next anyway), where the paths as one SPARQL
    query over the view's graphs cost Virtuoso 100-600 ms."""
    subject = ox.NamedNode(iri)
    if ox.Triple(subject, ox.NamedNode(RDF_TYPE), ox.NamedNode(FT + "Track")) not in triples:
        return []
    describe_ahead = getattr(store.ox, "prefetch_nodes", None)  # a backend: batched queries
    routes = {kind: (*annotations.CARRIER_STEPS[owner], *path.replace("ft:", "").split("/"),
                     "term_id") for kind, (owner, path) in annotations.ANNOTATIONS.items()}
    walked: dict[tuple[str, ...], list[ox.NamedNode]] = {(): [subject]}
    for depth in range(1, max(map(len, routes.values())) + 1):
        for prefix in sorted({r[:depth] for r in routes.values() if len(r) >= depth}):
            step = ox.NamedNode(FT + prefix[-1])
            walked[prefix] = reached = list(dict.fromkeys(
                t.object for node in walked[prefix[:-1]]
                for t in view.triples(store, node)  # a node's whole description: a backend
                if t.predicate == step and isinstance(t.object, ox.NamedNode)))  # has it
            if describe_ahead is not None and reached and prefix[-1].endswith("_ref"):
                # an entity's description holds its nested annotation nodes; with it, every
                # entity linked from the same nodes, which the page's summary describes next
                describe_ahead([*(node.value for node in reached),
                                *_linked(store, walked[prefix[:-1]])])
    terms = {term for route in routes.values() for term in walked[route]}
    if describe_ahead is not None and terms:
        describe_ahead(t.value for t in terms)
    upward = (ox.NamedNode(DESCENDS_FROM), ox.NamedNode(FOUND_UNDER))
    found = []
    for name, kinds in annotations.ANCESTOR_PREDICATES.items():
        ancestors = dict.fromkeys(
            ancestor for kind in kinds for term in walked[routes[kind]]
            for ancestor in (term, *(t.object for link in upward
                                     for t in view.triples(store, term, link))))
        found += [ox.Triple(subject, ox.NamedNode(FT + name), ancestor)
                  for ancestor in ancestors]
    return found


def _linked(store: TrackStore, nodes: list[ox.NamedNode]) -> list[str]:
    """The entities `nodes` link to (`ft:…_ref`)."""
    return [t.object.value for node in nodes for t in view.triples(store, node)
            if t.predicate.value.startswith(FT) and t.predicate.value.endswith("_ref")
            and isinstance(t.object, ox.NamedNode)]


def _ordered(rows: list[tuple[str, dict[str, object]]]) -> list[tuple[str, dict[str, object]]]:
    """Properties by name, inferred ancestor links last (the ontology context sums them up)."""
    return sorted(rows, key=lambda row: (row[0].endswith("_ancestor"), row[0]))


def list_cells(triples: list[ox.Triple]) -> set[ox.NamedNode | ox.BlankNode]:
    """The rdf:List cells among the triples' subjects: hash IRIs (lists are skolemised,
    docs/mapping.md) or, in a store loaded before, blank nodes."""
    return {t.subject for t in triples if t.predicate == RDF_FIRST}


def _list_items(edges: dict[object, list[ox.Triple]], head: object) -> list[object]:
    items, seen = [], set()
    while head in edges and head not in seen:  # a cycle (written by an update) ends it too
        seen.add(head)
        cell = {t.predicate.value.rsplit("#", 1)[-1]: t.object for t in edges[head]}
        if "first" not in cell:
            break
        items.append(cell["first"])
        head = cell.get("rest")
    return items


def _short(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace):]}"
    return iri


def _title(main: list[tuple[str, dict[str, object]]], iri: str) -> str:
    for key in ("ft:label_short", "ft:short_name", "ft:study_name", "ft:local_id"):
        for predicate, value in main:
            if predicate == key and value["kind"] == "literal":
                return str(value["text"])
    return iri.rsplit("/", 1)[-1]
