"""SPARQL of the rules core SHACL cannot express: ontology terms, uniqueness, references, CURIEs.

Each query is a SHACL-SPARQL `sh:select`: `$this` is the focus node and `$PATH` the property
shape's path. They read the facts the validation context adds to the data graph (see
`validation.context`): `rdfs:isDefinedBy` (which named ontology declares a term),
`ft:descends_from` (the reflexive-transitive closure over is_a + part_of + skos:broader),
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


def _values(name: str, iris: tuple[str, ...]) -> str:
    return f"VALUES ?{name} {{ {' '.join(iri(i) for i in iris)} }}"


def _descends(ancestors: tuple[str, ...]) -> str:
    """?value descends from one of the ancestors, or from what an obsolete one became."""
    values = _values("ancestor", ancestors)
    return (f"{{ {values} ?value ft:descends_from ?ancestor }} UNION "
            f"{{ {values} ?ancestor obo:IAO_0100001 ?replacement . "
            f"?value ft:descends_from ?replacement }}")


def _decidable(ontologies: tuple[str, ...], ancestors: tuple[str, ...], var: str) -> str:
    """The named ontologies that are complete and declare an ancestor (or its replacement):
    there, descent is decidable. Independent of the focus node: evaluated once."""
    values = _values("ancestor", ancestors)
    return (f"{{ SELECT DISTINCT ?{var} WHERE {{ {_values(var, ontologies)} "
            f"?{var} fts:status fts:Complete . "
            f"{{ {values} ?ancestor rdfs:isDefinedBy ?{var} }} UNION "
            f"{{ {values} ?ancestor obo:IAO_0100001 ?replacement . "
            f"?replacement rdfs:isDefinedBy ?{var} }} }} }}")


def term_defined(ontologies: tuple[str, ...], decidable: bool) -> str:
    """The term is declared by none of the named ontologies; decidable when all are complete
    (a violation), otherwise it cannot be checked offline (a warning)."""
    test = f"?complete = {len(ontologies)}" if decidable else f"?complete < {len(ontologies)}"
    return f"""SELECT DISTINCT $this ?value WHERE {{
  $this $PATH ?value .
  MINUS {{ ?value rdfs:isDefinedBy ?ontology . {_values("ontology", ontologies)} }}
  {{ SELECT (COUNT(DISTINCT ?named) AS ?complete) WHERE {{
    {_values("named", ontologies)} ?named fts:status fts:Complete }} }}
  FILTER({test})
}}"""


def term_ancestry(ontologies: tuple[str, ...], ancestors: tuple[str, ...],
                  decidable: bool) -> str:
    """A declared term that descends from none of the ancestors.

    Decidable when an ontology that declares the term is complete and declares one of the
    ancestors too (a violation); otherwise (an NCIT subset, EFO without its CL ancestry) a
    warning.
    """
    if decidable:
        head = (f"  ?value rdfs:isDefinedBy ?ontology .\n"
                f"  {_decidable(ontologies, ancestors, 'ontology')}\n")
    else:
        head = (f"  ?value rdfs:isDefinedBy ?ontology . {_values('ontology', ontologies)}\n"
                f"  MINUS {{ ?value rdfs:isDefinedBy ?decided .\n"
                f"    {_decidable(ontologies, ancestors, 'decided')} }}\n")
    return f"""SELECT DISTINCT $this ?value WHERE {{
  $this $PATH ?value .
{head}  MINUS {{ {_descends(ancestors)} }}
}}"""


OBSOLETE = """SELECT DISTINCT $this ?value ?replacement WHERE {
  $this $PATH ?value .
  ?value owl:deprecated true .
  OPTIONAL { ?value obo:IAO_0100001 ?replaced_by }
  BIND(COALESCE(STR(?replaced_by), "none named") AS ?replacement)
}"""


def unique(rdf_class: str) -> str:
    """Another entity of the same class, here or in another document of the store, has the id."""
    cls = iri(rdf_class)
    return f"""SELECT DISTINCT $this ?value ?other WHERE {{
  $this $PATH ?value .
  {{ ?record a fts:StoredEntity ; fts:entityClass {cls} ; ft:local_id ?value ;
      fts:document ?other . }}
  UNION
  {{ ?entity a {cls} ; ft:local_id ?value . FILTER(?entity != $this) BIND(?entity AS ?other) }}
}}"""


def reference(rdf_class: str) -> str:
    """The referenced IRI is no entity of the class, in the document or in the store."""
    cls = iri(rdf_class)
    return f"""SELECT DISTINCT $this ?value WHERE {{
  $this $PATH ?value .
  MINUS {{ ?value a {cls} }}
  MINUS {{ ?record a fts:StoredEntity ; fts:entity ?value ; fts:entityClass {cls} }}
}}"""


def registry_pattern(checked: str) -> str:
    """An identifier that breaks every registry pattern of its prefix (prefixes the shapes
    check with a static pattern, `checked`, are left to them)."""
    return f"""SELECT DISTINCT $this ?value ?prefix WHERE {{
  $this $PATH ?value .
  FILTER(REGEX(STR(?value), {string(CURIE_PATTERN)}) && !REGEX(STR(?value), {string(checked)}))
  BIND(STRBEFORE(STR(?value), ":") AS ?prefix)
  ?entry a fts:CuriePrefix ; fts:prefix ?prefix ; fts:pattern ?any .
  FILTER NOT EXISTS {{ ?entry fts:pattern ?pattern .
    FILTER(REGEX(STRAFTER(STR(?value), ":"), ?pattern)) }}
}}"""


def registry_unknown(checked: str) -> str:
    """A CURIE whose prefix the offline registry does not know."""
    return f"""SELECT DISTINCT $this ?value ?prefix WHERE {{
  $this $PATH ?value .
  FILTER(CONTAINS(STR(?value), ":") && !REGEX(STR(?value), {string(checked)}))
  BIND(STRBEFORE(STR(?value), ":") AS ?prefix)
  MINUS {{ ?entry a fts:CuriePrefix ; fts:prefix ?prefix }}
}}"""
