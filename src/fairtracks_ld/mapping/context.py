"""The project's JSON-LD 1.1 context: built from the schema layout, published in `context/`.

A term is named exactly like the FAIRtracks JSON key it maps, so FAIRtracks users read SPARQL in
their own words (`ft:file_url`, `ft:term_id`). Three kinds of terms are added by the mapping:
`<key>_iri` (the resolved IRI of a URL or CURIE, kept beside the original string), `position`
(array order, so exports reproduce documents) and the `doc_ontology_versions` entry fields.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from fairtracks_ld.mapping.namespaces import FT, FTX, XSD
from fairtracks_ld.paths import CONTEXT_FILE, data_dir
from fairtracks_ld.standard import Prop, iter_layouts, iter_props

SCHEMA_TERM = "schema"  # the document's "@schema" key: a keyword look-alike JSON-LD would drop
POSITION_TERM = "position"
MAP_ENTRY_TERMS = ("ontology", "ontology_version")
IRI_SUFFIX = "_iri"

_DATATYPES = {"uri": "xsd:anyURI", "date-time": "xsd:dateTime"}


def term_name(key: str) -> str:
    """The context term of a FAIRtracks JSON key."""
    return SCHEMA_TERM if key == "@schema" else key


def resolves(prop: Prop) -> bool:
    """Whether a property gets a `<key>_iri` companion holding resolved IRIs."""
    return prop.resolvable or (prop.kind == "list" and prop.item_resolvable)


def _definition(prop: Prop) -> dict[str, Any]:
    definition: dict[str, Any] = {"@id": f"ft:{term_name(prop.key)}"}
    if prop.kind in ("term", "ref"):
        definition["@type"] = "@id"
    elif prop.kind == "list":
        definition["@container"] = "@list"
    elif prop.kind == "literal" and prop.format in _DATATYPES:
        definition["@type"] = _DATATYPES[prop.format]
    return definition


def _add(terms: dict[str, Any], name: str, definition: dict[str, Any]) -> None:
    if terms.get(name, definition) != definition:
        raise ValueError(f"term {name!r} would map to {definition} and {terms[name]}")
    terms[name] = definition


def build_context() -> dict[str, Any]:
    """Build the context document from the schemas (see `make context`)."""
    terms: dict[str, Any] = {
        "@version": 1.1,
        "@vocab": FTX,
        "ft": FT,
        "ftx": FTX,
        "xsd": XSD,
    }
    for layout in iter_layouts():
        _add(terms, layout.rdf_class, {"@id": f"ft:{layout.rdf_class}"})
    for _, prop in iter_props():
        _add(terms, term_name(prop.key), _definition(prop))
        if resolves(prop):
            _add(terms, term_name(prop.key) + IRI_SUFFIX, {"@id": f"ft:{term_name(prop.key)}_iri",
                                                           "@type": "@id"})
    for name in MAP_ENTRY_TERMS:
        _add(terms, name, {"@id": f"ft:{name}", "@type": "xsd:anyURI"})
        _add(terms, name + IRI_SUFFIX, {"@id": f"ft:{name}{IRI_SUFFIX}", "@type": "@id"})
    _add(terms, POSITION_TERM, {"@id": f"ft:{POSITION_TERM}"})
    return {"@context": terms}


def context_text(context: dict[str, Any]) -> str:
    """A context file's exact text (both models' contexts are written alike)."""
    return json.dumps(context, indent=2, ensure_ascii=False) + "\n"


def read_published(file_name: str) -> dict[str, Any]:
    """A published context file in `context/`, as its `@context` value."""
    return json.loads((data_dir("context") / file_name).read_text(encoding="utf-8"))["@context"]


def render_context() -> str:
    """The context file's exact text."""
    return context_text(build_context())


@cache
def load_context() -> dict[str, Any]:
    """The published context (the file in `context/`), as the `@context` value."""
    return read_published(CONTEXT_FILE)


@cache
def term_iris() -> dict[str, str]:
    """Term name → full predicate/class IRI, from the published context."""
    prefixes = {"ft:": FT, "xsd:": XSD}
    out: dict[str, str] = {}
    for name, value in load_context().items():
        if name.startswith("@") or not isinstance(value, dict | str):
            continue
        iri = value["@id"] if isinstance(value, dict) else value
        for prefix, namespace in prefixes.items():
            if iri.startswith(prefix):
                out[name] = namespace + iri[len(prefix):]
    return out
