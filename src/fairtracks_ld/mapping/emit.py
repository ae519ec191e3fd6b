"""The prepared JSON-LD tree → N-Triples text, by the published context, without a JSON-LD
processor.

`prepare` (and the Ensembl mapping) build a JSON-LD tree of a narrow shape: node objects with an
`@id` and `@type`, whose values are strings, booleans, numbers, nested node objects, `@json` value
objects, or arrays of these. Its terms, their IRIs, type coercions (`@id`, datatypes) and
`@list` containers are read here from the published context (`context/*.jsonld`), compiled once,
and each node is written straight to N-Triples lines, exactly as the JSON-LD 1.1 toRdf algorithm
would (compact IRIs expanded, native numbers and booleans typed, `@json` canonicalised, lists as
rdf:List): no `json.dumps` of the tree and no JSON-LD parse. A shape outside that narrow one is
refused (ValueError), and tests/test_direct_mapping.py proves the result isomorphic to pyld's
toRdf of the same JSON-LD.

No blank node is written: a list's cells are hash IRIs of the node that owns the list
(`iris.list_cell`: `{node}#{property}-list-{n}`), the skolemised form (RDF 1.1 Concepts §3.5) of
the blank nodes toRdf gives them, the same on every load of a document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from c14n.Canonicalize import canonicalize  # RFC 8785 JSON, shipped with PyLD (as pyld uses it)

from fairtracks_ld.mapping.iris import list_cell, list_cell_name
from fairtracks_ld.mapping.namespaces import RDF, RDF_JSON, RDF_TYPE, XSD

_TYPE = f"<{RDF_TYPE}>"
_FIRST, _REST, _NIL = f"<{RDF}first>", f"<{RDF}rest>", f"<{RDF}nil>"
_BOOLEAN, _INTEGER, _DOUBLE = f"<{XSD}boolean>", f"<{XSD}integer>", f"<{XSD}double>"
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})
_DOUBLE_FORM = re.compile(r"(\d)0*E\+?(-)?0*(\d)")


@dataclass(frozen=True, slots=True)
class Rule:
    """How one key's values become objects: its predicate (N-Triples form), its coercion
    (`@id`, a datatype in N-Triples form, or None) and whether it is an `@list` container."""

    predicate: str
    coerce: str | None
    is_list: bool


SKIP = Rule("", None, False)  # a key that writes no triples (`CompiledContext.skipped`)


def text(value: str) -> str:
    """An N-Triples string literal's quoted form."""
    if '"' in value or "\\" in value or "\n" in value or "\r" in value:
        value = value.translate(_ESCAPES)
    return f'"{value}"'


def double(value: float) -> str:
    """The canonical xsd:double form JSON-LD gives a number (`5.5E0`)."""
    return _DOUBLE_FORM.sub(r"\1E\2\3", f"{value:1.15E}")


class CompiledContext:
    """A JSON-LD context (the `@context` value) compiled for writing N-Triples."""

    def __init__(self, context: dict[str, Any], skipped: str | None = None,
                 untyped: frozenset[str] = frozenset()) -> None:
        self.skipped = skipped  # keys ending so write no triples (None: every key does)
        self.untyped = untyped  # classes (`@type` names) that write no rdf:type triple
        self.terms = {k: v for k, v in context.items() if not k.startswith("@")}
        self.vocab: str | None = context.get("@vocab")
        self.prefixes = {k: v for k, v in self.terms.items()
                         if isinstance(v, str) and v.endswith(_GEN_DELIMS)}
        self.rules: dict[str, Rule] = {}
        self.classes: dict[str, str] = {}
        self.cell_names: dict[str, str] = {}  # a list term's cell name → its predicate

    def expand(self, value: str) -> str:
        """IRI expansion of a key or type (JSON-LD 1.1 §5.2, vocabulary-relative): a term, a
        compact IRI whose prefix the context defines, an absolute IRI as is, else relative to
        `@vocab`."""
        if value in self.terms:
            definition = self.terms[value]
            return self.expand(definition if isinstance(definition, str)
                               else definition["@id"])
        if ":" in value:
            return self.iri(value)
        if self.vocab is None:
            raise ValueError(f"{value!r} is not an absolute IRI")
        return self.vocab + value

    def iri(self, value: str) -> str:
        """A value coerced to `@id` (document-relative IRI expansion: no terms, no @vocab)."""
        prefix, colon, suffix = value.partition(":")
        if not colon:
            raise ValueError(f"{value!r} is not an absolute IRI")
        if prefix in self.prefixes and not suffix.startswith("//"):
            return self.prefixes[prefix] + suffix
        return value

    def rule(self, key: str) -> Rule:
        found = self.rules.get(key)
        if found is None:
            found = self.rules[key] = self._rule(key)
        return found

    def _rule(self, key: str) -> Rule:
        definition = self.terms.get(key)
        if definition == "@nest" or key.startswith("@"):
            raise ValueError(f"key {key!r} is not mapped directly")
        if self.skipped is not None and key.endswith(self.skipped):
            return SKIP
        if not isinstance(definition, dict):
            return Rule(f"<{self.expand(key)}>", None, False)
        coerce = definition.get("@type")
        if coerce is not None and coerce != "@id":
            coerce = f"<{self.expand(coerce)}>"
        predicate = self.expand(definition["@id"])
        is_list = definition.get("@container") == "@list"
        if is_list:  # cells are named after the predicate's local name: one list term a name
            name = list_cell_name(predicate)
            if self.cell_names.setdefault(name, predicate) != predicate:
                raise ValueError(f"list terms {predicate} and {self.cell_names[name]} would "
                                 "give their cells the same IRIs")
        return Rule(f"<{predicate}>", coerce, is_list)

    def class_iri(self, name: str) -> str:
        """A class in N-Triples form ("" for a class in `untyped`)."""
        found = self.classes.get(name)
        if found is None:
            found = self.classes[name] = "" if name in self.untyped else f"<{self.expand(name)}>"
        return found


class Writer:
    """N-Triples lines of JSON-LD node objects, appended to `lines`: each triple of a node
    once, so that a chunk's lines are its graph's triples, which records keep as they come."""

    def __init__(self, context: CompiledContext) -> None:
        self.context = context
        self.lines: list[str] = []
        self.lists: set[tuple[str, str]] = set()  # (subject, predicate) of each list written

    def text(self) -> str:
        return "".join(self.lines)

    def node(self, node: dict[str, Any]) -> str:
        """Write a node object's triples; returns its subject in N-Triples form."""
        iri = node.get("@id")
        if not isinstance(iri, str):
            raise ValueError("a node object without an @id")
        subject = f"<{iri}>"
        append = self.lines.append
        rules = self.context.rules
        for key, value in node.items():
            rule = rules.get(key)
            if rule is None:
                if key == "@id":
                    continue
                if key == "@type":
                    for name in dict.fromkeys(value) if isinstance(value, list) else (value,):
                        if cls := self.context.class_iri(name):
                            append(f"{subject} {_TYPE} {cls} .\n")
                    continue
                rule = self.context.rule(key)
            if rule is SKIP:
                continue
            kind = type(value)
            if kind is str:  # the common cases first, written here
                coerce = rule.coerce
                if coerce is None:
                    if '"' in value or "\\" in value or "\n" in value or "\r" in value:
                        value = value.translate(_ESCAPES)
                    append(f'{subject} {rule.predicate} "{value}" .\n')
                elif coerce == "@id":
                    append(f"{subject} {rule.predicate} <{self.context.iri(value)}> .\n")
                else:
                    append(f"{subject} {rule.predicate} {text(value)}^^{coerce} .\n")
            elif kind is list:
                if rule.is_list:
                    append(f"{subject} {rule.predicate} {self.list(iri, value, rule)} .\n")
                else:  # a value the array repeats, once: the graph, a set, holds it once
                    for term in dict.fromkeys(self.object(item, rule) for item in value):
                        append(f"{subject} {rule.predicate} {term} .\n")
            else:
                append(f"{subject} {rule.predicate} {self.object(value, rule)} .\n")
        return subject

    def list(self, owner: str, items: list[Any], rule: Rule) -> str:
        """An rdf:List of the items, `owner`'s value of the rule's predicate; its head (rdf:nil
        when empty). Its cells are `iris.list_cell` IRIs, so an owner has one list a
        predicate (a second would share its cells)."""
        if not items:
            return _NIL
        predicate = rule.predicate[1:-1]
        if (owner, predicate) in self.lists:
            raise ValueError(f"two lists of <{owner}> for <{predicate}>")
        self.lists.add((owner, predicate))
        cells = [f"<{list_cell(owner, predicate, n)}>" for n in range(1, len(items) + 1)]
        append = self.lines.append
        for index, item in enumerate(items):
            if isinstance(item, list):
                raise ValueError("a list of lists")
            append(f"{cells[index]} {_FIRST} {self.object(item, rule)} .\n")
            rest = cells[index + 1] if index + 1 < len(cells) else _NIL
            append(f"{cells[index]} {_REST} {rest} .\n")
        return cells[0]

    def object(self, value: Any, rule: Rule) -> str:
        """One value's object term (JSON-LD toRdf's conversions of native values)."""
        coerce = rule.coerce
        if isinstance(value, str):
            if coerce == "@id":
                return f"<{self.context.iri(value)}>"
            return text(value) if coerce is None else f"{text(value)}^^{coerce}"
        if isinstance(value, dict):
            if "@value" in value:
                if value.get("@type") != "@json" or len(value) != 2:
                    raise ValueError(f"an unexpected value object {sorted(value)}")
                return f"{text(canonicalize(value['@value']).decode('utf-8'))}^^<{RDF_JSON}>"
            return self.node(value)
        if isinstance(value, bool):
            return f'"{"true" if value else "false"}"^^{_datatype(coerce, _BOOLEAN)}'
        if isinstance(value, int) and abs(value) < 10**21:
            return f'"{value}"^^{_datatype(coerce, _INTEGER)}'
        if isinstance(value, int | float):
            if float(value).is_integer() and abs(value) < 1e21:
                return f'"{int(value)}"^^{_datatype(coerce, _INTEGER)}'
            return f'"{double(float(value))}"^^{_datatype(coerce, _DOUBLE)}'
        raise ValueError(f"a value of type {type(value).__name__} in the JSON-LD tree")


def _datatype(coerce: str | None, native: str) -> str:
    """A native value's datatype: the term's coercion, if it names a datatype."""
    return native if coerce is None or coerce == "@id" else coerce


_compiled: dict[tuple[int, str | None, frozenset[str]],
                tuple[dict[str, Any], CompiledContext]] = {}


def compile_context(context: dict[str, Any], skipped: str | None = None,
                    untyped: frozenset[str] = frozenset()) -> CompiledContext:
    """The compiled form of a context (the published ones are loaded once and kept, so each is
    compiled once per `skipped` suffix and `untyped` classes)."""
    key = (id(context), skipped, untyped)
    found = _compiled.get(key)
    if found is None or found[0] is not context:
        found = _compiled[key] = (context, CompiledContext(context, skipped, untyped))
    return found[1]
