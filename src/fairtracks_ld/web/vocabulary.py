"""The vocabulary document: where `ft:` and `ftx:` IRIs lead once w3id.org redirects them here.

`https://w3id.org/fairtracks-ld/vocab#file_url` is a hash IRI: clients fetch
`https://w3id.org/fairtracks-ld/vocab`, which w3id.org redirects to this server's `/vocab`
(rules in `context/w3id.htaccess`), and read the fragment themselves. So `/vocab` negotiates:
an HTML page with one anchor per term for people, the Turtle (or any RDF syntax) for machines.
`/ext` explains the extension namespace, whose terms are minted from documents' own keys.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import pyoxigraph as ox
from flask import Blueprint, Response, render_template, request

from fairtracks_ld.mapping.namespaces import FT, FTX, OWL, RDF, RDF_TYPE, RDFS, SDO, XSD
from fairtracks_ld.paths import VOCABULARY_FILE, data_dir
from fairtracks_ld.web.negotiation import HTML, RDF_TYPES, SUFFIXES, choose, not_acceptable

blueprint = Blueprint("vocabulary", __name__)

PREFIXES = {"ft": FT, "owl": OWL, "rdfs": RDFS, "sdo": SDO, "rdf": RDF, "xsd": XSD}
_OFFERS = [HTML, *(t for t in RDF_TYPES if t != "application/n-quads")]


@cache
def _triples() -> tuple[ox.Triple, ...]:
    """The shipped vocabulary, parsed once per process (it cannot change while serving)."""
    return tuple(ox.parse((data_dir("context") / VOCABULARY_FILE).read_bytes(),
                         format=ox.RdfFormat.TURTLE))


def _curie(term: ox.NamedNode | ox.Literal | ox.BlankNode) -> str:
    value = term.value
    for prefix, namespace in PREFIXES.items():
        if value.startswith(namespace):
            return f"{prefix}:{value[len(namespace):]}"
    return value


def _terms(triples: tuple[ox.Triple, ...]) -> dict[str, list[dict[str, object]]]:
    """Classes and properties of the ft: namespace, each with what a reader needs."""
    facts: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for triple in triples:
        if isinstance(triple.subject, ox.NamedNode) and triple.subject.value.startswith(FT):
            facts[triple.subject.value][triple.predicate.value].append(triple.object)
    groups: dict[str, list[dict[str, object]]] = {"classes": [], "properties": []}
    for iri, by_predicate in sorted(facts.items(), key=lambda item: item[0].lower()):
        types = by_predicate.get(RDF_TYPE, [])
        first = {p: values[0].value for p, values in by_predicate.items()}
        entry = {
            "name": iri[len(FT):], "iri": iri, "label": first.get(RDFS + "label", ""),
            "comment": first.get(RDFS + "comment", ""), "json_key": first.get(FT + "json_key"),
            "kind": ", ".join(sorted(_curie(t) for t in types)),
            "domain": [_curie(d) for d in by_predicate.get(SDO + "domainIncludes", [])],
            "range": [_curie(r) for r in by_predicate.get(RDFS + "range", [])
                      + by_predicate.get(SDO + "rangeIncludes", [])],
            "super": [_curie(s) for s in by_predicate.get(RDFS + "subPropertyOf", [])
                      + by_predicate.get(RDFS + "subClassOf", [])],
        }
        is_class = ox.NamedNode(OWL + "Class") in types
        groups["classes" if is_class else "properties"].append(entry)
    return groups


@blueprint.route("/vocab")
@blueprint.route("/vocab<any('.ttl', '.jsonld', '.nt', '.rdf', '.html'):suffix>")
def vocabulary(suffix: str | None = None) -> Response:
    """The ft: vocabulary: an HTML page with an anchor per term, or RDF."""
    media = choose(_OFFERS, SUFFIXES.get(suffix) if suffix else None)
    if media is None:
        return not_acceptable(_OFFERS)
    triples = _triples()
    if media == HTML:
        body = render_template("vocab.html", namespace=FT, terms=_terms(triples),
                               formats=[(s, t) for s, t in SUFFIXES.items()
                                        if t in _OFFERS and t != HTML])
        response = Response(body, mimetype=HTML)
    else:
        response = Response(ox.serialize(triples, format=RDF_TYPES[media], prefixes=PREFIXES),
                            mimetype=media)
    response.headers["Vary"] = "Accept"
    response.add_etag()
    return response.make_conditional(request)


@blueprint.route("/ext")
def extension_namespace() -> Response:
    """What the ftx: namespace is (its terms are the documents' own keys, not a fixed list)."""
    return Response(render_template("ext.html", namespace=FTX), mimetype=HTML)
