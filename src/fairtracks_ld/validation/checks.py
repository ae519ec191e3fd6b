"""Schema rules → SHACL checks: the constraint, its path, severity and message.

A check is one SHACL constraint (one property shape, or one node-level shape for `anyOf`) on the
objects at one location of a document. How a JSON value looks in RDF decides the constraint:
strings are xsd:string literals (xsd:anyURI / xsd:dateTime for `uri` / `date-time` formats),
ontology terms and references are IRIs, nested objects are nodes, arrays of strings are
rdf:Lists, and a value whose JSON type differs from the schema's is kept under the extension
namespace (`ftx:` + the key), so "wrong type" is also "an `ftx:` value for a known key".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from fairtracks_ld.mapping.context import load_context, term_name
from fairtracks_ld.mapping.namespaces import FT, FTX, RDF, XSD
from fairtracks_ld.mapping.prepare import article, extension_key
from fairtracks_ld.standard import ENTITY_ARRAYS, Layout, Prop, iter_layouts
from fairtracks_ld.validation import registry, templates
from fairtracks_ld.validation.rules import MAP_LOCATION, Condition, Rule
from fairtracks_ld.validation.templates import (
    CURIE_PATTERN,
    DATE_TIME_PATTERN,
    EMAIL_PATTERN,
    URI_PATTERN,
)
from fairtracks_ld.validation.turtle import boolean, iri, string, typed

REF_CLASSES = {"document": "Document", "collection": "Collection", "study": "Study",
               "experiment": "Experiment", "sample": "Sample"}
_JSON_TYPES = {"string": "a string", "object": "an object", "array": "an array",
               "boolean": "true or false"}


@dataclass
class Check:
    """One SHACL constraint: on `path` (None: on the focus node) of the objects at `location`."""

    rule: Rule
    path: str | None
    body: str  # Turtle predicate-object list, e.g. 'sh:minCount 1'
    message: str
    concern: str  # which shapes file it belongs in
    severity: str = "Violation"
    sources: list[str] = field(default_factory=list)
    variants: frozenset[str] = frozenset()
    standard: bool = True
    name: str = ""  # what the check tests, for the shape's IRI (default: its constraint)
    ontologies: tuple[str, ...] = ()  # ontologies the check names (the context reports on)
    ancestors: tuple[str, ...] = ()  # terms the check names (the context digests them)

    def key(self) -> tuple:
        """Checks with equal keys are one constraint (their sources merge)."""
        rule = self.rule
        return (self.concern, self.variants, rule.condition, rule.location, rule.entry,
                self.path, self.body, self.severity)


@cache
def layouts() -> dict[str, Layout]:
    return {layout.path: layout for layout in iter_layouts()}


def prop_of(location: str, key: str) -> Prop | None:
    layout = layouts().get(location)
    return layout.props.get(key) if layout else None


def predicate(location: str, key: str) -> str:
    """The RDF property of a JSON key at a location (`ftx:` for keys the layout does not map)."""
    if location == MAP_LOCATION + "/*":
        return FT + key
    return FT + term_name(key) if prop_of(location, key) else FTX + extension_key(key)[4:]


def mistyped(location: str, key: str) -> str | None:
    """Where a value of the wrong JSON type goes: `ftx:<key>` (None if the key is not mapped)."""
    return FTX + extension_key(key)[4:] if prop_of(location, key) else None


@cache
def datatype_of(location: str, key: str) -> str | None:
    """The datatype the context gives a literal term (None: plain string or native JSON)."""
    if prop_of(location, key) is None and location != MAP_LOCATION + "/*":
        return None
    definition = load_context().get(term_name(key))
    kind = definition.get("@type") if isinstance(definition, dict) else None
    if kind and kind.startswith("xsd:"):
        return XSD + kind[4:]
    return None


def rdf_value(location: str, key: str, value: object) -> str:
    """A JSON constant as the RDF term the mapping makes of it."""
    prop = prop_of(location, key)
    if isinstance(value, bool):
        return boolean(value)
    if prop is not None and prop.kind in ("term", "ref"):
        return iri(str(value))
    return typed(str(value), datatype_of(location, key))


def step(location: str, keys: tuple[str, ...]) -> tuple[str, str]:
    """SPARQL path for keys below a location, and the location reached."""
    parts = []
    for key in keys:
        parts.append(iri(predicate(location, key)))
        location = f"{location}/{key}" if location else key
        if location in (f"{k}" for k in ENTITY_ARRAYS):
            location += "/*"
    return "/".join(parts), location


def list_items(path: str) -> str:
    return f"( {path} [ sh:zeroOrMorePath rdf:rest ] rdf:first )"


def short(value: object) -> str:
    """A constant as a data provider reads it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def condition_text(condition: Condition) -> str:
    values = " or ".join(short(v) for v in condition.values)
    return f" when {'/'.join(condition.test)} is {values}"


def checks_of(rule: Rule, variants: frozenset[str], sources: list[str]) -> list[Check]:
    """The SHACL checks of one rule."""
    made = _make(rule)
    for check in made:
        check.variants = variants
        check.sources = list(sources)
        check.standard = rule.standard
        if rule.condition is not None:
            check.message += condition_text(rule.condition)
    return made


def _make(rule: Rule) -> list[Check]:
    loc, key, kind, params = rule.location, rule.key, rule.kind, rule.params
    if kind == "map_required":
        path = f"( {iri(FT + 'doc_ontology_versions')} {iri(FT + 'ontology')} )"
        body = f"sh:hasValue {typed(params[0], XSD + 'anyURI')}"
        return [Check(rule, path, body, f"doc_ontology_versions needs the key {params[0]}",
                      "structure")]
    if kind == "any_required":
        branches = " ".join(f"[ sh:path {iri(predicate(loc, k))} ; sh:minCount 1 ]"
                            for k in params)
        names = " or ".join(f"'{k}'" for k in params)
        return [Check(rule, None, f"sh:or ( {branches} )", f"needs {names}", "structure")]
    assert key is not None
    prop = prop_of(loc, key)
    pred = iri(predicate(loc, key))
    path = list_items(pred) if rule.item and prop and prop.kind == "list" else pred
    label = f"'{key}'"
    if kind == "required":
        return [Check(rule, pred, "sh:minCount 1", f"{label} is required", "structure")]
    if kind == "type":
        return _type_checks(rule, prop, pred, path, label)
    if kind in ("enum", "const"):
        terms = " ".join(rdf_value(loc, key, v) for v in params)
        allowed = ", ".join(short(v) for v in params)
        text = f"must be one of: {allowed}" if kind == "enum" else f"must be {allowed}"
        return [Check(rule, path, f"sh:in ( {terms} )", f"{label} {text}", "structure")]
    if kind == "pattern":
        return [Check(rule, path, f"sh:pattern {string(params[0])}",
                      f"{label} must match the pattern {params[0]}", "structure")]
    if kind == "format":
        return _format_checks(rule, pred, path, label, params[0])
    if kind == "min_items":
        if prop is not None and prop.kind == "entities":
            return [Check(rule, pred, "sh:minCount 1", f"{label} must not be empty",
                          "structure")]
        return [Check(rule, pred, f"sh:not [ sh:hasValue {iri(RDF + 'nil')} ]",
                      f"{label} must not be an empty list", "structure")]
    if kind in ("curie", "namespace"):
        return _curie_checks(rule, path, label, params)
    if kind == "ontology":
        return _ontology_checks(rule, path, label, params[0])
    if kind == "ancestors":
        return _ancestor_checks(rule, path, label, *params)
    if kind == "unique":
        rdf_class = FT + layouts()[loc].rdf_class
        return [Check(rule, pred, _sparql(templates.unique(rdf_class),
                      f"{label} {{?value}} is already used by {{?other}}"),
                      "", "integrity", name="unique")]
    if kind == "ref":
        rdf_class = FT + REF_CLASSES[params[0]]
        return [Check(rule, pred, _sparql(templates.reference(rdf_class),
                      f"{label} names {article(params[0])} {params[0]} that is neither in "
                      "this document nor in the store: {?value}"), "", "integrity",
                      name="reference")]
    if kind == "suggested_length":
        return [Check(rule, path, f"sh:maxLength {params[0]}",
                      f"{label} is longer than the suggested {params[0]} characters",
                      "advice", "Warning")]
    raise ValueError(f"no SHACL translation for rule kind {kind!r}")


def _type_checks(rule: Rule, prop: Prop | None, pred: str, path: str, label: str) -> list[Check]:
    loc, key = rule.location, rule.key or ""
    json_type = rule.params[0]
    text = f"{label} must be {_JSON_TYPES.get(json_type, json_type)}"
    checks = []
    moved = mistyped(loc, key)
    if moved is not None:
        checks.append(Check(rule, iri(moved), "sh:maxCount 0", text, "structure"))
    if rule.item:
        if prop is not None and prop.kind == "list":
            checks.append(Check(rule, path, f"sh:datatype {iri(XSD + 'string')}", text,
                                "structure"))
        return checks
    if prop is None or prop.kind == "literal":
        datatype = datatype_of(loc, key)
        if json_type == "boolean":
            body = f"sh:datatype {iri(XSD + 'boolean')}"
        elif datatype is not None:
            body = "sh:nodeKind sh:Literal"  # the format check owns the datatype
        else:
            body = f"sh:datatype {iri(XSD + 'string')}"
    elif prop.kind in ("term", "ref", "entities"):
        body = "sh:nodeKind sh:IRI"
    else:  # objects, maps and lists are nodes
        body = "sh:nodeKind sh:BlankNodeOrIRI"
    checks.append(Check(rule, path, body, text, "structure"))
    return checks


def _format_checks(rule: Rule, pred: str, path: str, label: str, fmt: str) -> list[Check]:
    datatype = datatype_of(rule.location, rule.key or "")
    checks = []
    if fmt == "uri":
        text = f"{label} must be a URI"
        if datatype is not None:
            checks.append(Check(rule, path, f"sh:datatype {iri(datatype)}", text, "structure"))
        checks.append(Check(rule, path, f"sh:pattern {string(URI_PATTERN)}", text,
                            "structure"))
    elif fmt == "date-time":
        text = f"{label} must be a date and time such as 2020-07-07T19:02:59Z"
        checks.append(Check(rule, path, f"sh:datatype {iri(XSD + 'dateTime')}", text,
                            "structure"))
        checks.append(Check(rule, path, f"sh:pattern {string(DATE_TIME_PATTERN)}", text,
                            "structure"))
    elif fmt == "idn-email":
        checks.append(Check(rule, path, f"sh:pattern {string(EMAIL_PATTERN)}",
                            f"{label} must be an e-mail address", "structure"))
    return checks


def _curie_checks(rule: Rule, path: str, label: str, params: tuple) -> list[Check]:
    namespaces = params[0]
    checks = []
    if rule.kind == "curie":
        checks.append(Check(rule, path, f"sh:pattern {string(CURIE_PATTERN)}",
                            f"{label} must be a CURIE (prefix:identifier, no spaces)",
                            "identifiers"))
    severity = "Violation" if rule.kind == "curie" else "Warning"
    if namespaces:
        allowed = ", ".join(namespaces)
        checks.append(Check(
            rule, path, f"sh:pattern {string(registry.namespace_regex(namespaces))}",
            f"{label} must be a {allowed} identifier, written prefix:identifier, that matches "
            "the registry's pattern", "identifiers", severity))
    else:  # any registered prefix: the common ones statically, the others from the table
        common = registry.COMMON_PREFIXES
        prefixed = "^(" + "|".join(re.escape(p) for p in common) + r"):\S*$"
        checks.append(Check(
            rule, path, f"sh:or ( [ sh:not [ sh:pattern {string(prefixed)} ] ] "
            f"[ sh:pattern {string(registry.namespace_regex(common))} ] )",
            f"{label}: a {', '.join(common)} identifier must match the registry's pattern",
            "identifiers", severity, name="common-prefixes"))
        checks.append(Check(rule, path, _sparql(
            templates.registry_pattern(prefixed),
            f"{label}: {{?value}} does not match the registry pattern of prefix "
            "'{?prefix}'"), "", "identifiers", severity, name="registry"))
        checks.append(Check(rule, path, _sparql(
            templates.registry_unknown(prefixed),
            f"{label}: prefix '{{?prefix}}' of {{?value}} is not in the offline registry; "
            "it cannot be checked"), "", "identifiers", "Warning", name="registry-unknown"))
    return checks


def _ontology_checks(rule: Rule, path: str, label: str, ontologies: tuple) -> list[Check]:
    named = ", ".join(ontologies)
    return [
        Check(rule, path, _sparql(templates.term_defined(ontologies, True),
                                  f"{label} {{?value}} is not a class of {named}"),
              "", "ontology", name="defined", ontologies=ontologies),
        Check(rule, path, _sparql(
            templates.term_defined(ontologies, False),
            f"{label} {{?value}} is not among the classes of {named} available offline; "
            "it cannot be checked"), "", "ontology", "Warning", name="defined-offline",
            ontologies=ontologies),
        Check(rule, path, _sparql(
            templates.OBSOLETE, f"{label} {{?value}} is obsolete (replaced by: {{?replacement}})"),
            "", "ontology", "Warning", name="obsolete"),
    ]


def _ancestor_checks(rule: Rule, path: str, label: str, ontologies: tuple,
                     ancestors: tuple) -> list[Check]:
    wanted = ", ".join(ancestors)
    return [
        Check(rule, path, _sparql(templates.term_ancestry(ontologies, ancestors, True),
                                  f"{label} {{?value}} does not descend from {wanted}"),
              "", "ontology", name="ancestors", ontologies=ontologies, ancestors=ancestors),
        Check(rule, path, _sparql(
            templates.term_ancestry(ontologies, ancestors, False),
            f"{label} {{?value}}: descent from {wanted} cannot be decided with the "
            "ontologies available offline"), "", "ontology", "Warning",
            name="ancestors-offline", ontologies=ontologies, ancestors=ancestors),
    ]


def _sparql(select: str, message: str) -> str:
    """Body of a SPARQL-based constraint (the message is set on the constraint)."""
    from fairtracks_ld.validation.turtle import long_string

    return (f"sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes <{_prefixes_node()}> ;\n"
            f"    sh:message {string(message)} ;\n    sh:select {long_string(select)} ]")


def _prefixes_node() -> str:
    from fairtracks_ld.validation.vocab import SHAPES_ONTOLOGY

    return SHAPES_ONTOLOGY
