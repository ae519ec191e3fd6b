"""The shapes agree with the official JSON Schemas (Draft 7, vendored files, both variants).

Valid documents (the vendored examples, generated corpora) are valid for both. Then every
constraining keyword of the schemas is found by a plain walk of the schema files (independently
of the shapes builder) and broken once, in its own document: the JSON Schema validator must
reject it, and the shapes must report a violation of that keyword (`fts:schemaRule`) or at that
JSON Pointer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from test_validation_support import (
    OBO,
    ROOT,
    base_document,
    schema_errors,
    validate_many,
    validator,
)

from fairtracks_ld.generate import generate_documents
from fairtracks_ld.standard import VARIANTS, example_documents, load_schemas

_KEYWORDS = ("type", "enum", "const", "pattern", "format", "minItems")
_STANDARD_FORMATS = ("uri", "date-time", "idn-email")  # the others are FAIRtracks extensions


@dataclass(frozen=True)
class Site:
    """One constraining keyword: where it is in the schemas and where it applies."""

    keyword: str
    source: str  # file#pointer
    path: tuple[str, ...]  # JSON keys from the document root; "*" = first array item
    value: Any
    condition: tuple[tuple[str, ...], Any] | None = None  # (path of the tested value, value)


def _sites(variant: str) -> list[Site]:
    schemas = load_schemas(variant)  # type: ignore[arg-type]
    found: list[Site] = []

    def walk(node: dict, file: str, ptr: str, path: tuple, condition) -> None:
        if "$ref" in node:
            ref = node["$ref"]
            walk(schemas[ref], ref, "", path, condition)
        for keyword in _KEYWORDS:
            if keyword in node and not (path and path[-1] == "*" and keyword == "minItems"):
                found.append(Site(keyword, f"{file}#{ptr}/{keyword}", path, node[keyword],
                                  condition))
        for index, key in enumerate(node.get("required", [])):
            found.append(Site("required", f"{file}#{ptr}/required/{index}", (*path, key), key,
                              condition))
        if "anyOf" in node and all("required" in b for b in node["anyOf"]):
            keys = [b["required"][0] for b in node["anyOf"]]
            found.append(Site("anyOf", f"{file}#{ptr}/anyOf", path, keys, condition))
        for key, child in node.get("properties", {}).items():
            token = key.replace("~", "~0").replace("/", "~1")
            walk(child, file, f"{ptr}/properties/{token}", (*path, key), condition)
        if "items" in node:
            walk(node["items"], file, f"{ptr}/items", (*path, "*"), condition)
        for index, entry in enumerate(node.get("allOf", [])):
            walk(entry["then"], file, f"{ptr}/allOf/{index}/then", path,
                 (path, _if_value(entry["if"])))

    walk(schemas[ROOT], ROOT, "", (), None)
    return found


def _if_value(node: dict) -> tuple[tuple[str, ...], Any]:
    keys = []
    while "properties" in node:
        key, node = next(iter(node["properties"].items()))
        keys.append(key)
    value = node["const"] if "const" in node else node["anyOf"][0]["const"]
    return tuple(keys), value


def _container(document: dict, path: tuple) -> tuple[Any, str]:
    node: Any = document
    tokens = []
    for key in path[:-1]:
        index = 0 if key == "*" else key
        node = node[index]
        tokens.append(str(index))
    last = path[-1]
    tokens.append("0" if last == "*" else last)
    pointer = "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)
    return node, pointer


def _wrong_type(expected: str) -> Any:
    return {"string": 12345, "object": "not an object", "array": "not an array",
            "boolean": "yes"}[expected]


def _violating(site: Site, current: Any) -> Any:
    """A value that breaks the site's keyword (and, where possible, only it)."""
    if site.keyword == "type":
        return _wrong_type(site.value)
    if site.keyword == "enum":
        return OBO + "NCIT_C00000" if str(current).startswith("http") else "not an allowed value"
    if site.keyword == "const":
        if str(site.value).startswith(OBO):
            return OBO + ("SO_0000704" if "SO_" in site.value else "NCIT_C12508")
        return "https://example.org/not-the-constant.json"
    if site.keyword == "pattern":
        return "http://example.org/x.owl" if site.value.endswith("$") else "mailto:a@example.org"
    if site.keyword == "format":
        return {"uri": "http://exa mple.org/x", "date-time": "not a date",
                "idn-email": "not-an-email"}[site.value]
    if site.keyword == "minItems":
        return []
    raise AssertionError(site)


def _apply_condition(document: dict, site: Site) -> None:
    if site.condition is None:
        return
    anchor_path, (test, value) = site.condition
    anchor = document
    for key in anchor_path:
        anchor = anchor[0] if key == "*" else anchor[key]
    node = anchor
    for key in test[:-1]:
        node = node.setdefault(key, {})
    node[test[-1]] = value


def mutate(variant: str, site: Site) -> tuple[Any, str]:
    """The base document with the site's keyword broken, and the JSON Pointer of the break."""
    document = base_document(variant)
    if not site.path:  # the document itself must be an object
        return _wrong_type(site.value), ""
    _apply_condition(document, site)
    container, pointer = _container(document, site.path)
    if site.keyword == "required":
        container.pop(site.value, None)
    elif site.keyword == "anyOf":
        target, pointer = _container(document, (*site.path, "_"))
        pointer = pointer.rsplit("/", 1)[0]
        for key in site.value:
            target.pop(key, None)
    else:
        key = 0 if site.path[-1] == "*" else site.path[-1]
        current = container[key] if isinstance(container, list) else container.get(key)
        container[key] = _violating(site, current)
    return document, pointer


def _cases() -> list[tuple[str, Site]]:
    """Every standard keyword of both variants, once per schema keyword (a keyword of a shared
    sub-schema, such as contact, is broken at its first place only)."""
    cases, seen = [], set()
    for variant in VARIANTS:
        for site in _sites(variant):
            if site.keyword == "format" and site.value not in _STANDARD_FORMATS:
                continue
            if site.keyword == "required" and site.value == "has_augmented_metadata":
                continue  # it defines the variant: without it a document is v1-current
            key = (site.source, site.value if site.keyword == "required" else None)
            if key not in seen:
                seen.add(key)
                cases.append((variant, site))
    return cases


CASES = _cases()


def test_the_walk_finds_every_kind_of_rule():
    kinds = {site.keyword for _, site in CASES}
    assert kinds == {"type", "enum", "const", "pattern", "format", "minItems", "required",
                     "anyOf"}
    assert sum(1 for _, s in CASES if s.condition) > 30  # the if/then rules, both variants
    assert len(CASES) > 200


@pytest.mark.parametrize("variant", VARIANTS)
def test_base_documents_are_valid_for_both(variant):
    document = base_document(variant)
    assert schema_errors(document) == []
    report = validator().document(document)
    assert report.valid, [(f.pointer, f.message) for f in report.violations]


def test_examples_agree_on_standard_rules():
    """The vendored examples satisfy the JSON Schemas; the shapes find no standard violation.

    The v1-current example breaks a FAIRtracks extension the schemas state but JSON Schema does
    not check: `raw_file_ids` items have `format: curie` and "encode: ENCFF207FGO" (with a
    space) is no CURIE. Its label " ENCFF955LOC" (leading space) breaks nothing.
    """
    for variant, path in example_documents().items():
        document = json.loads(path.read_text())
        assert schema_errors(document) == []
        report = validator().document(document, str(path))
        standard = [f for f in report.violations if f.standard]
        assert standard == [], variant
    v1 = validator().document(json.loads(example_documents()["v1-current"].read_text()))
    assert [(f.pointer, f.value) for f in v1.violations] == [
        ("/tracks/0/raw_file_ids/0", "encode: ENCFF207FGO")]


@pytest.mark.parametrize("variant", VARIANTS)
def test_generated_documents_are_valid_for_both(variant):
    for document in generate_documents(40, seed=5, variant=variant, tracks_per_document=20):
        assert schema_errors(document) == []
        report = validator().document(document)
        assert report.valid, [(f.pointer, f.message) for f in report.violations][:5]


def test_every_standard_rule_broken_once_is_caught_by_both():
    mutants = [mutate(variant, site) for variant, site in CASES]
    errors = [schema_errors(document) for document, _ in mutants]
    reports = validate_many([document for document, _ in mutants])
    failures = []
    for (variant, site), (_, pointer), error, report in zip(CASES, mutants, errors, reports,
                                                            strict=True):
        relevant = [f for f in report.violations if f.standard or f.rules == ["mapping"]]
        refused = [f for f in relevant if f.rules == ["mapping"]]
        caught = [f for f in relevant if site.source in f.rules or pointer == f.pointer
                  or pointer.startswith(f.pointer + "/")]
        by_rule = any(site.source in f.rules for f in relevant)
        if not error or not caught:
            failures.append((variant, site.source, pointer, error[:1],
                             [(f.pointer, f.rules) for f in relevant][:3]))
        elif not by_rule and not refused and site.keyword not in ("type", "pattern", "const"):
            failures.append((variant, site.source, "not attributed to its keyword", pointer,
                             [(f.pointer, f.rules) for f in relevant][:3]))
    assert failures == [], f"{len(failures)} of {len(CASES)}: {failures[:5]}"


def test_batches_and_single_documents_agree():
    """The batch used above validates each document as it would be alone."""
    sample = [mutate(variant, site)[0] for variant, site in CASES[::40]]
    together = validate_many([json.loads(json.dumps(d)) for d in sample])
    def standard(report):
        return sorted((f.severity, f.pointer, f.message) for f in report.findings if f.standard)

    for document, batched in zip(sample, together, strict=True):
        assert standard(validator().document(document)) == standard(batched)
