"""What people read of a validation: each problem once, in the schema's words, at its own JSON
Pointer, with the findings it causes listed under it.

The SHACL results are exact about the RDF a document maps to, which is not always what a data
provider wrote: a value of the wrong JSON type is kept under `ftx:<key>`, so the shapes see a
misplaced value *and* a missing one; a term_id that is no IRI is misplaced the same way, though
its JSON type is right and only its pattern is wrong; one constraint made of two schema keywords
(an array and its items) says both; two shapes of one keyword (datatype and pattern) say one
thing twice; a `*_ref` to an object whose `local_id` is missing dangles. `present` rewrites the
findings from the schema rules they cite (`fts:schemaRule`, read back in the vendored schemas):
the keyword meant, its pointer, one finding per problem, and the findings a problem causes
attached to it (`Finding.consequences`). The W3C report (`DocumentReport.report`) is untouched.
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from fairtracks_ld import ensembl_model
from fairtracks_ld.standard import ENTITY_ARRAYS, VARIANTS, iter_props, load_schemas

if TYPE_CHECKING:
    from fairtracks_ld.validation.documents import Finding

_MISSING = object()
_TYPE_NAMES = {"string": "a string", "object": "an object", "array": "an array",
               "boolean": "true or false", "integer": "an integer", "number": "a number"}
_REQUIRED = re.compile(r"/required/\d+$")
_REF_HOLDERS = {"document": "doc_info", "collection": "collection_info"}


@cache
def _schema_files(variant: str) -> dict[str, Any]:
    if variant == "ensembl":
        return {ensembl_model.SCHEMA_FILE: ensembl_model.schema()}
    return load_schemas(variant)  # type: ignore[arg-type]


@lru_cache(maxsize=4096)
def schema_node(source: str, variant: str | None = None) -> Any:
    """The schema value a rule (`file#/json/pointer`) names; `_MISSING` if there is none."""
    file, sep, pointer = source.partition("#")
    if not sep:
        return _MISSING
    order = [variant] if variant in (*VARIANTS, "ensembl") else []
    for name in [*order, *VARIANTS, "ensembl"]:
        node = _lookup(_schema_files(name).get(file, _MISSING), pointer)
        if node is not _MISSING:
            return node
    return _MISSING


def _json_type(value: Any) -> str:
    """The JSON Schema type of a value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _fits(value: Any, wanted: Any) -> bool:
    kind = _json_type(value)
    return kind == wanted or (wanted == "number" and kind == "integer")


def _key(pointer: str) -> str:
    tokens = [t for t in pointer.split("/")[1:] if not t.isdigit()]
    return tokens[-1].replace("~1", "/").replace("~0", "~") if tokens else "the document"


def _token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _lookup(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


@cache
def _ref_targets() -> dict[str, str]:
    """`*_ref` key → the kind of object it names."""
    return {prop.key: prop.ref_target for _, prop in iter_props()
            if prop.kind == "ref" and prop.ref_target}


def _caused_pointer(kind: str, pointer: str) -> bool:
    """Whether a violation at `pointer` leaves references to `kind` objects dangling: the
    objects, or their local_id, are missing or unusable."""
    holder = _REF_HOLDERS.get(kind)
    if holder is not None:
        return pointer in (f"/{holder}", f"/{holder}/local_id")
    arrays = [name for name, item in ENTITY_ARRAYS.items() if item == kind]
    return bool(arrays) and re.fullmatch(rf"/{arrays[0]}(/\d+(/local_id)?)?", pointer) is not None


# ---- rewording one finding ----------------------------------------------------------------


@lru_cache(maxsize=4096)
def _rule_facts(rules: tuple[str, ...], variant: str | None
                ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """Of a finding's rules: the `type` rules with the type each asks, and the keys the
    `required` rules name (read once per set of rules: a rule broken 100k times is one)."""
    types = tuple((rule, node) for rule in rules if rule.endswith("/type")
                  and isinstance(node := schema_node(rule, variant), str))
    keys = frozenset(node for rule in rules if _REQUIRED.search(rule)
                     and isinstance(node := schema_node(rule, variant), str))
    return types, keys


def _reword(finding: Finding, document: Any, variant: str | None) -> Finding:
    """The finding in the words of the schema keyword it is about."""
    types, keys = _rule_facts(tuple(finding.rules), variant)
    if types and finding.value is not None:
        return _type_finding(finding, list(types), variant)
    if len(finding.rules) > 1 and "; " in finding.message:
        return _one_of_required(finding, document, variant)
    if not keys:
        return finding
    return _key_pointer(_missing_object(finding, document, variant), variant)


def _type_finding(finding: Finding, types: list[tuple[str, str]], variant: str | None
                  ) -> Finding:
    """A misplaced value: the array or its item, or (right type) the keyword that failed."""
    value, key = finding.value, _key(finding.pointer)
    arrays = [(rule, kind) for rule, kind in types if kind == "array"]
    items = [(rule, kind) for rule, kind in types if kind != "array"]
    if arrays and items:  # one constraint of two keywords: the array, and its items
        if not isinstance(value, list):
            rule, _ = arrays[0]
            return dataclasses.replace(finding, message=f"'{key}' must be an array",
                                       rules=[rule])
        wanted = items[0][1]
        index = next((i for i, item in enumerate(value) if not _fits(item, wanted)), 0)
        return dataclasses.replace(
            finding, pointer=f"{finding.pointer}/{index}", value=value[index] if value else None,
            message=f"each item of '{key}' must be {_TYPE_NAMES.get(wanted, wanted)}",
            rules=[rule for rule, _ in items])
    rule, wanted = types[0]
    if not _fits(value, wanted):
        return finding
    # the JSON type is right: the value was set aside for breaking a sibling keyword
    parent = rule.removesuffix("/type")
    node = schema_node(parent, variant)
    if not isinstance(node, dict):
        return finding
    for name, child in (node.get("properties") or {}).items():  # an entry of the object
        inner = value.get(name, _MISSING) if isinstance(value, dict) else _MISSING
        if inner is not _MISSING and isinstance(child, dict) and "type" in child \
                and not _fits(inner, child["type"]):
            wanted = _TYPE_NAMES.get(child["type"], child["type"])
            return dataclasses.replace(
                finding, pointer=f"{finding.pointer}/{_token(name)}", value=inner,
                message=f"'{name}' must be {wanted}",
                rules=[f"{parent}/properties/{_token(name)}/type"])
    if "pattern" in node:
        example = (node.get("examples") or [None])[0]
        hint = f"'{key}' must match {node['pattern']}"
        if node.get("format") == "term":
            hint = f"write the ontology term's full IRI ({hint})"
        if example:
            hint += f", such as {example}"
        return dataclasses.replace(
            finding, message=f"'{key}' must match the pattern {node['pattern']}",
            rules=[f"{parent}/pattern"], hint=hint)
    return finding


def _one_of_required(finding: Finding, document: Any, variant: str | None) -> Finding:
    """'X must not be empty; X is required' (one minCount of two keywords): the one that holds,
    when the document is at hand."""
    key = _key(finding.pointer)
    required = [r for r in finding.rules if _REQUIRED.search(r)]
    min_items = [r for r in finding.rules if r.endswith("/minItems")]
    if not required or not min_items:
        return finding
    found = _lookup(document, finding.pointer) if document is not None else None
    if found is _MISSING:
        return dataclasses.replace(finding, message=f"'{key}' is required", rules=required)
    if found in ([], {}):  # {}: an array read lazily (`DocumentReader.pick`) with no item
        return dataclasses.replace(finding, message=f"'{key}' must not be empty", rules=min_items)
    return dataclasses.replace(finding, message=f"'{key}' is required and must not be empty")


def wanted(findings: list[Finding]) -> dict[str, set[int]]:
    """The entity arrays whose first item `present` needs to word a finding (an array missing
    or empty), for a document read lazily (`DocumentReader.pick`)."""
    return {key: {0} for f in findings if len(f.rules) > 1 and "; " in f.message
            for key in [f.pointer.removeprefix("/")] if key in ENTITY_ARRAYS}


def _missing_object(finding: Finding, document: Any, variant: str | None) -> Finding:
    """A member of a required object that is missing altogether (an Ensembl track's objects are
    flattened, so each member says it is missing): the object is what is required."""
    if document is None or "/" not in finding.pointer[1:]:
        return finding
    parent = finding.pointer.rsplit("/", 1)[0]
    if _lookup(document, parent) is not _MISSING:
        return finding
    for rule in finding.rules:
        if _REQUIRED.search(rule) and schema_node(rule, variant) == _key(parent):
            return dataclasses.replace(finding, pointer=parent, rules=[rule],
                                       message=f"'{_key(parent)}' is required")
    return finding


def _key_pointer(finding: Finding, variant: str | None) -> Finding:
    """A missing key's own pointer (`/doc_info/doc_ontology_versions/{key}`), not its object's."""
    _, keys = _rule_facts(tuple(finding.rules), variant)
    if len(keys) != 1 or finding.pointer.endswith(f"/{_token(next(iter(keys)))}"):
        return finding
    return dataclasses.replace(finding, pointer=f"{finding.pointer}/{_token(next(iter(keys)))}")


# ---- the whole report -----------------------------------------------------------------------


def present(findings: list[Finding], document: Any = None, variant: str | None = None
            ) -> list[Finding]:
    """The findings people read: reworded, each problem once, consequences under their cause
    (the other findings at a misplaced value's pointer; a dangling `*_ref` under the problem
    with the objects it names). Order is kept; a cause is never less severe than what it causes.
    """
    # (where the SHACL result pointed, whether it is a misplaced value, the finding reworded;
    # the findings are the caller's own, fresh: their rules and consequences are added to)
    reworded = [(f.pointer, _misplaces(f), _reword(f, document, variant)) for f in findings]
    unique: dict[tuple[str, str, str], tuple[str, bool, Finding]] = {}
    for origin, misplaced, finding in reworded:  # the same message at the same place: once
        key = (finding.severity, finding.pointer, finding.message)
        if key in unique:
            kept = unique[key][2]
            kept.rules.extend(r for r in finding.rules if r not in kept.rules)
        else:
            unique[key] = (origin, misplaced, finding)
    causes: dict[str, Finding] = {}
    for origin, misplaced, finding in unique.values():
        if misplaced:
            causes.setdefault(origin, finding)
    top: list[Finding] = []
    for origin, _, finding in unique.values():
        cause = _cause_at(causes, origin) or causes.get(finding.pointer)
        if cause is not None and cause is not finding and _ranks(cause, finding):
            cause.consequences.append(finding)
        else:
            top.append(finding)
    return _attach_references(top)


def _cause_at(causes: dict[str, Finding], pointer: str) -> Finding | None:
    """The misplaced value at a pointer or above it (nothing below a misplaced value exists)."""
    while True:
        if pointer in causes:
            return causes[pointer]
        if not pointer:
            return None
        pointer = pointer.rsplit("/", 1)[0]


def _misplaces(finding: Finding) -> bool:
    """A value of the wrong JSON type (or set aside by the mapping): its key also looks absent,
    and the value's other rules fail with it."""
    return "mistyped" in (finding.shape or "") or any(
        rule.endswith("/type") for rule in finding.rules)


def _ranks(cause: Finding, effect: Finding) -> bool:
    order = {"Violation": 0, "Warning": 1, "Info": 2}
    return order.get(cause.severity, 3) <= order.get(effect.severity, 3)


def _attach_references(top: list[Finding]) -> list[Finding]:
    """A `*_ref` naming no object because the objects it names lack their local_id (or are not
    there at all) is reported under that problem."""
    kept: list[Finding] = []
    causes: dict[str, Finding | None] = {}  # per kind of object named: the first cause
    for finding in top:
        cause = None
        kind = _ref_targets().get(_key(finding.pointer))
        if kind is not None and (finding.shape or "").endswith("-reference"):
            if kind not in causes:
                causes[kind] = next((f for f in top if f.severity == "Violation"
                                     and _caused_by(f, kind)), None)
            cause = causes[kind]
        if cause is not None and cause is not finding and _ranks(cause, finding):
            cause.consequences.append(finding)
        else:
            kept.append(finding)
    return kept


def _caused_by(finding: Finding, kind: str) -> bool:
    """Whether a finding (or one it causes) says the objects of `kind` or their local_ids are
    missing or unusable (a local_id also used elsewhere still names its object)."""
    return any(_caused_pointer(kind, f.pointer) and not (f.shape or "").endswith("-unique")
               for f in (finding, *finding.consequences))
