"""`shapes/README.md`: what the shapes check, generated with them so the list cannot drift."""

from __future__ import annotations

from collections import defaultdict

from fairtracks_ld.mapping.prepare import article
from fairtracks_ld.standard import VARIANTS
from fairtracks_ld.validation.checks import condition_text, short
from fairtracks_ld.validation.rules import MergedRule, Rule

_INTRO = """\
# SHACL shapes

SHACL shapes (Turtle) for both FAIRtracks v1 variants (`v1-current` and `master`, see
`standard/`), checked on the RDF the mapping produces (`context/`). They are **generated** from the
vendored JSON Schemas by `python -m fairtracks_ld.validation.builder` (this README included); a
test regenerates them and requires that nothing changes. Each shape names the schema keyword(s)
it enforces (`fts:schemaRule "fairtracks_track.schema.json#/required/5"`) and whether that is a
JSON Schema rule (`fts:standard true`) or a FAIRtracks extension or advice (`false`).

| file | shapes for |
|---|---|
{files}

## How documents are checked

fairtracks-ld compiles the shapes to SPARQL and runs them inside Oxigraph, one set-based query per
constraint (`fairtracks_ld.validation`); pySHACL is the cross-check in the tests and the
benchmark. Core SHACL is used wherever it can say the rule; SHACL-SPARQL constraints (`sh:sparql`)
only for ontology terms, uniqueness, references and any-prefix CURIEs; SHACL-AF SPARQL targets
(`sh:SPARQLTarget`) select the focus nodes of variant-specific and conditional rules.

**The data graph** of a document is its own triples plus facts the validation context adds (never
stored): for each ontology term it uses, which named ontology declares it (`rdfs:isDefinedBy`
with the schema's ontology IRI), `ft:descends_from` (the store's closure graph, or the same
relation computed over is_a + part_of + skos:broader when the closure is absent), `owl:deprecated`
and `obo:IAO_0100001` (replaced by); for each ontology the schemas name, `fts:status`
(`fts:Complete`, `fts:Partial` for the NCIT subset of the bundle, `fts:Missing` when not loaded);
`fts:StoredEntity` records of the entities of the store's current view in *other* documents
(class, local_id, document) that share a local_id with the document or that it references; and
the offline CURIE prefix table (`fts:CuriePrefix`, Bioregistry). Without a store the ontologies
come from the shipped bundle (`ontologies/`).

**Variants.** A document is `master` when its `doc_info` has `has_augmented_metadata` (any JSON
type), like `standard.detect_variant`. Rules of both variants target nodes by class; rules of
one variant and conditional rules walk from the document in a SPARQL target that tests that
property, so the variant is read from the data, not from the catalog (validation runs before a
document is stored).

**Wrong JSON types.** The mapping keeps a value whose JSON type differs from the schema's under
the extension namespace (`ftx:` + key); a `type` rule is therefore "no `ftx:<key>` value" plus the
RDF form of the right type (xsd:string, xsd:boolean, IRI, node).

**Severity.** `sh:Violation` breaks a rule. `sh:Warning`: what cannot be decided offline (an
ontology that is not loaded or only a subset, such as NCIT; EFO cell lines, whose ancestry to
CL_0000010 is not in the bundle; CURIE prefixes unknown to the offline registry), obsolete terms
(with their replacement), `namespace` on properties that do not declare the CURIE format
(`gene_id`, track `global_id`), and the suggested maximum lengths of labels. A document is valid
when it has no violation.

## Covered rules

`v1` = v1-current only, `master` = master only; no mark = both variants. Locations are JSON paths
(`*` = every item of an array).

"""

_KIND_TEXT = {
    "required": "required",
    "unique": "unique across the store",
    "min_items": "at least {0} item",
}

_CONDITIONALS = """
## Conditional rules

| rule | then | schema keyword |
|---|---|---|
{rows}
"""

_NOT_COVERED = """
## Not covered, and known differences

- `items.minItems` inside `aggregated_from` constrains nothing in JSON Schema (it sits on string
  items); it is not a rule.
- `matchType: exact` of ontology terms is read as "the IRI is a class of the named ontology";
  `matchType: canonical` of CURIEs as "prefix:identifier with a listed prefix and the registry's
  identifier pattern". `ega.experiment` and `fairtracks` have no pattern offline: only their
  prefix is checked.
- The ancestor `OBI_0000011` (planned process) is obsolete in current OBI; its replacement
  (`COB_0000035`) is accepted as well. The schemas' own conditional technique
  `http://edamontology.org/topic_3517` (GWAS) is an EDAM *topic*, not an operation: the
  ancestors rule rejects it, as the schema says. NCIT ancestry is only decided for the NCIT
  classes the schemas name (the bundle holds no more of NCIt): other NCIT terms get a warning.
- Registry patterns use ASCII `\\d` / `\\w`; raw-file prefixes common in FAIRtracks
  collections (encode, geo, insdc.sra, ena.embl, arrayexpress, ega.dataset) are checked by a
  static pattern, other prefixes through the offline prefix table.
- Formats: `uri` is checked by RFC 3986 syntax (characters and scheme), `date-time` as RFC 3339
  plus a well-formed xsd:dateTime, `idn-email` as `local@domain` without spaces.
- A document that cannot be mapped at all (malformed JSON, unknown `@schema`, entities without a
  string `local_id`, duplicate local_ids in one array, no `collection_info`) is reported by the
  mapping with a JSON Pointer before any shape runs; the shapes still state those rules.
- `unique` is enforced per entity class against the store's current view: versions of the same
  document are not compared with each other (a new version replaces them).
"""


def _mark(variants: frozenset[str]) -> str:
    if variants == frozenset(VARIANTS):
        return ""
    return " (v1)" if "v1-current" in variants else " (master)"


def _describe(rule: Rule) -> str:
    params = rule.params
    kind = rule.kind
    if kind == "type":
        return f"{'items ' if rule.item else ''}type {params[0]}"
    if kind == "enum":
        return f"one of {len(params)} values"
    if kind == "const":
        return f"= `{short(params[0])}`"
    if kind == "pattern":
        return f"{'items ' if rule.item else ''}pattern `{params[0]}`"
    if kind == "format":
        return f"format {params[0]}"
    if kind == "curie":
        names = ", ".join(params[0]) or "any registered prefix"
        return f"{'items ' if rule.item else ''}CURIE ({names})"
    if kind == "namespace":
        return f"namespace {', '.join(params[0])} (warning)"
    if kind == "ontology":
        return "term of " + ", ".join(o.rsplit("/", 1)[-1] for o in params[0])
    if kind == "ancestors":
        return "descends from " + ", ".join(a.rsplit("/", 1)[-1] for a in params[1])
    if kind == "ref":
        return f"references {article(params[0])} {params[0]}"
    if kind == "suggested_length":
        return f"≤ {params[0]} characters (warning)"
    if kind == "any_required":
        return " or ".join(params) + " required"
    if kind == "map_required":
        return f"key {params[0]} required"
    return _KIND_TEXT.get(kind, kind).format(*params)


def render_readme(rules: list[MergedRule], concerns: dict[str, tuple[str, str]],
                  prefixes_file: str) -> str:
    """The shapes README; `concerns` and `prefixes_file` name the files the builder writes."""
    files = "\n".join(f"| `{name}` | {about} |" for name, about in concerns.values())
    files += f"\n| `{prefixes_file}` | the prefixes SPARQL-based shapes declare |"
    by_place: dict[tuple[str, str], list[str]] = defaultdict(list)
    conditionals = []
    for merged in rules:
        rule, variants = merged.rule, frozenset(merged.variants)
        if rule.condition is not None:
            place = "/".join(p for p in (rule.location, rule.key or "") if p)
            then = f"`{place}` {_describe(rule)}{_mark(variants)}"
            conditionals.append((condition_text(rule.condition).strip(), then))
            continue
        place = rule.location or "(document)"
        if rule.entry:
            place += f" [{rule.entry}]"
        text = _describe(rule) + _mark(variants)
        prop = rule.key or "(object)"
        if text not in by_place[(place, prop)]:
            by_place[(place, prop)].append(text)
    rows = [f"| `{place}` | `{prop}` | {' · '.join(texts)} |"
            for (place, prop), texts in by_place.items()]
    table = "| location | property | rules |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    cond_rows = "\n".join(f"| {when} | {then} | |" for when, then in sorted(set(conditionals)))
    return (_INTRO.format(files=files) + table
            + _CONDITIONALS.format(rows=cond_rows).replace(" | |", " |").replace(
                "| rule | then | schema keyword |\n|---|---|---|", "| rule | then |\n|---|---|")
            + _NOT_COVERED)
