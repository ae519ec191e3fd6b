"""SPARQL of the rules core SHACL cannot express: ontology terms, uniqueness, references, CURIEs.

Each query is a SHACL-SPARQL `sh:select`: `$this` is the focus node and `$PATH` the property
shape's path. They read the facts the validation context adds to the data graph (see
`validation.context`): `rdfs:isDefinedBy` (which named ontology declares a term),
`fts:imports` (a named ontology includes another's classes: EFO imports CL and UBERON, so a term
of an imported ontology is a class of the importer too), `ft:descends_from` (the
reflexive-transitive closure over is_a + part_of + skos:broader),
`owl:deprecated` / `obo:IAO_0100001`, `fts:status` of each named ontology
(Complete, Partial or Missing), `fts:StoredEntity` records of the store's other documents and the
`fts:CuriePrefix` table. Every query binds `$this` in its first triple pattern, so it reads the
same whether `$this` is pre-bound (pySHACL) or joined with the targets (the Oxigraph engine).
"""

from __future__ import annotations

from fairtracks_ld.validation.turtle import iri, string

# Formats as regexes (the Python, Rust and XPath regex dialects agree on these).
URI_CHARS = r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]"
URI_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*:" + URI_CHARS + "*$"
CURIE_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*:" + URI_CHARS + "+$"
DATE_TIME_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})$")
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


# SHACL-SPARQL forbids VALUES and MINUS in constraints (pre-binding): the templates use
# constant patterns, FILTER(… IN …) and NOT EXISTS over single triple patterns instead, which
# Oxigraph answers with one index lookup each.


def _in(var: str, iris: tuple[str, ...]) -> str:
    return f"FILTER(?{var} IN ({', '.join(iri(i) for i in iris)}))"


def _any(expressions: list[str]) -> str:
    return "(" + " || ".join(expressions) + ")"


def _descends(ancestors: tuple[str, ...]) -> list[str]:
    """FILTERs: ?value descends from none of the ancestors, nor from what an obsolete one
    became."""
    filters = []
    for ancestor in ancestors:
        filters.append(f"FILTER NOT EXISTS {{ ?value ft:descends_from {iri(ancestor)} }}")
        filters.append(f"FILTER NOT EXISTS {{ {iri(ancestor)} obo:IAO_0100001 ?replacement_of"
                       f"{len(filters)} . ?value ft:descends_from ?replacement_of"
                       f"{len(filters)} }}")
    return filters


def _member(ontology: str, index: int) -> str:
    """?value is a class of the ontology: declared by it, or by an ontology it imports (a CL
    term counts as a class of EFO, which imports CL). Two lookups with ?value bound, not a
    property path: Oxigraph evaluates `?x p? ?y` over every node of the graph."""
    named = iri(ontology)
    return (f"(EXISTS {{ ?value rdfs:isDefinedBy {named} }} || "
            f"EXISTS {{ {named} fts:imports ?imported_by{index} . "
            f"?value rdfs:isDefinedBy ?imported_by{index} }})")


def _decided(ontologies: tuple[str, ...], ancestors: tuple[str, ...], var: str) -> str:
    """Patterns: ?value is declared by ?var, a complete ontology (named, or imported by a named
    one) that declares one of the ancestors (or its replacement) too, so that descent is
    decidable there: CL decides a CL term's descent from a CL class; EFO, whose bundle lacks
    the CL/CLO ancestry of its own cell lines, decides nothing about descent from CL. No
    subquery: SHACL-SPARQL wants subqueries to return the pre-bound `$this`."""
    tests = []
    for index, ancestor in enumerate(ancestors):
        tests.append(f"EXISTS {{ {iri(ancestor)} rdfs:isDefinedBy ?{var} }}")
        tests.append(f"EXISTS {{ {iri(ancestor)} obo:IAO_0100001 ?new{index} . "
                     f"?new{index} rdfs:isDefinedBy ?{var} }}")
    own = _any([f"?{var} IN ({', '.join(iri(o) for o in ontologies)})"]
               + [f"EXISTS {{ {iri(o)} fts:imports ?{var} }}" for o in ontologies])
    return (f"?value rdfs:isDefinedBy ?{var} . ?{var} fts:status fts:Complete . "
            f"FILTER{own} FILTER{_any(tests)}")


def term_defined(ontologies: tuple[str, ...], decidable: bool) -> str:
    """The term is a class of none of the named ontologies (declared by one, or by an ontology
    one imports); decidable when all of them and their imports are complete (a violation),
    otherwise it cannot be checked offline (a warning)."""
    lines = [f"FILTER(!{_member(o, i)})" for i, o in enumerate(ontologies)]
    incomplete_imports = [f"EXISTS {{ {iri(o)} fts:imports ?imported{i} FILTER NOT EXISTS "
                          f"{{ ?imported{i} fts:status fts:Complete }} }}"
                          for i, o in enumerate(ontologies)]
    if decidable:
        lines += [f"{iri(o)} fts:status fts:Complete ." for o in ontologies]
        lines += [f"FILTER(NOT {test})" for test in incomplete_imports]
    else:
        lines.append("FILTER" + _any(
            [f"NOT EXISTS {{ {iri(o)} fts:status fts:Complete }}" for o in ontologies]
            + incomplete_imports))
    body = "\n  ".join(lines)
    return f"""SELECT DISTINCT $this ?value WHERE {{
  $this $PATH ?value .
  {body}
}}"""


def term_ancestry(ontologies: tuple[str, ...], ancestors: tuple[str, ...],
                  decidable: bool) -> str:
    """A declared term that descends from none of the ancestors.

    Decidable when an ontology that declares the term is complete and declares one of the
    ancestors too (a violation); otherwise (an NCIT subset, EFO without its CL ancestry) a
    warning.
    """
    if decidable:
        lines = [_decided(ontologies, ancestors, "decided")]
    else:
        lines = [
            "FILTER" + _any([_member(o, i) for i, o in enumerate(ontologies)]),
            f"FILTER NOT EXISTS {{ {_decided(ontologies, ancestors, 'decided')} }}",
        ]
    body = "\n  ".join(lines + _descends(ancestors))
    return f"""SELECT DISTINCT $this ?value WHERE {{
  $this $PATH ?value .
  {body}
}}"""


OBSOLETE = """SELECT DISTINCT $this ?value ?replacement WHERE {
  $this $PATH ?value .
  ?value owl:deprecated true .
  OPTIONAL { ?value obo:IAO_0100001 ?replaced_by }
  BIND(COALESCE(STR(?replaced_by), "none named") AS ?replacement)
}"""


def unique(rdf_class: str) -> str:
    """Another entity of the same class, here or in another document of the store, has the id.
    (The inequality stands outside the UNION: inside it, `$this` is unbound where it is joined
    rather than pre-bound, and the test never held; the holder of the id is joined on the id
    in the main group, so that the query stays linear.)"""
    cls = iri(rdf_class)
    return f"""SELECT DISTINCT $this ?value ?other WHERE {{
  $this $PATH ?value .
  ?holder ft:local_id ?value .
  {{ ?holder a fts:StoredEntity ; fts:entityClass {cls} ; fts:document ?other . }}
  UNION
  {{ ?holder a {cls} . BIND(?holder AS ?other) }}
  FILTER(?holder != $this)
}}"""


def reference(rdf_class: str) -> str:
    """The referenced IRI is no entity of the class, in the document or in the store. (The
    record's class is tested in an EXISTS of its own: in one group with the record's entity,
    Oxigraph scanned every record of the class for each reference, 14.5 s against 0.04 s for
    12,500 references among 10,000 records.)"""
    cls = iri(rdf_class)
    return f"""SELECT DISTINCT $this ?value WHERE {{
  $this $PATH ?value .
  FILTER NOT EXISTS {{ ?value a {cls} }}
  FILTER NOT EXISTS {{ ?record fts:entity ?value
    FILTER EXISTS {{ ?record fts:entityClass {cls} }} }}
}}"""


def registry_pattern(checked: str) -> str:
    """An identifier that breaks every registry pattern of its prefix (prefixes the shapes
    check with a static pattern, `checked`, are left to them)."""
    return f"""SELECT DISTINCT $this ?value ?prefix WHERE {{
  $this $PATH ?value .
  FILTER(REGEX(STR(?value), {string(CURIE_PATTERN)}) && !REGEX(STR(?value), {string(checked)}))
  BIND(STRBEFORE(STR(?value), ":") AS ?prefix)
  ?entry fts:prefix ?prefix ; fts:pattern ?any .
  FILTER NOT EXISTS {{ ?entry fts:pattern ?pattern .
    FILTER(REGEX(STRAFTER(STR(?value), ":"), ?pattern)) }}
}}"""


def registry_unknown(checked: str) -> str:
    """A CURIE whose prefix the offline registry does not know."""
    return f"""SELECT DISTINCT $this ?value ?prefix WHERE {{
  $this $PATH ?value .
  FILTER(CONTAINS(STR(?value), ":") && !REGEX(STR(?value), {string(checked)}))
  BIND(STRBEFORE(STR(?value), ":") AS ?prefix)
  FILTER NOT EXISTS {{ ?entry fts:prefix ?prefix }}
}}"""
