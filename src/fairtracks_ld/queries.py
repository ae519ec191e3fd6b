"""Named, parameterised SPARQL queries (`queries/*.rq`) and safe parameter binding.

A query file starts with comment lines: a description, then one line per parameter,

    # param: term (class) — the cell type: IRI, CURIE or exact label/synonym
    # param: facet (facet) — the annotation: cell_type, tissue, …
    # param: text (string) — words to look for

Kinds: `class` (an ontology class, given as IRI, CURIE such as `CL:0000236` or `EFO:0003042`, or
an exact label or synonym, any case), `facet` (one of the track → ancestor predicates) and
`string` (a literal); `(class, optional)` marks an optional one. Values reach the query only
through Oxigraph's `substitutions=` (SEP-0007), never by editing the query text, so a value can
never change what the query does; the one exception is a facet used as a predicate, which is a
property path, not a value: the track predicate it names (one of a closed set, never the given
text) is written in (`virtual.bind_predicate`). Queries run as `/sparql` runs them, track
predicates rewritten into their paths (`virtual.rewrite`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.mapping import annotations
from fairtracks_ld.mapping.namespaces import FT, OWL, RDFS
from fairtracks_ld.ontology.iris import canonical_iri, curie_to_iri, iri_to_curie
from fairtracks_ld.paths import data_dir
from fairtracks_ld.sparql import virtual
from fairtracks_ld.store import TrackStore

KINDS = ("class", "facet", "string")
_PARAM = re.compile(
    r"^#\s*param:\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\((?P<kind>[^)]*)\))?\s*"
    r"(?:(?:\u2014|\u2013|-)+\s*(?P<text>.*))?$"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CURIE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*:[^\s:/][^\s]*$")
OBOINOWL = "http://www.geneontology.org/formats/oboInOwl#"
LABEL_TIERS = (  # which names resolve a class, best first
    ("label", (RDFS + "label",)),
    ("exact synonym", (OBOINOWL + "hasExactSynonym",)),
    ("synonym", (OBOINOWL + "hasSynonym", OBOINOWL + "hasRelatedSynonym",
                 OBOINOWL + "hasNarrowSynonym", OBOINOWL + "hasBroadSynonym")),
)
FACET_ALIASES = {"organism_part": "tissue", "sample_phenotype": "phenotype",
                 "target_phenotype": "phenotype"}
_PREFIXES = {"ft": FT, "owl": OWL, "rdfs": RDFS}


class QueryError(ValueError):
    """A named query or one of its parameters cannot be used (a usage error)."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    optional: bool
    description: str


@dataclass(frozen=True)
class NamedQuery:
    """One `.rq` file: its name, description, parameters and text."""

    name: str
    path: Path
    description: str
    params: tuple[Param, ...]
    text: str

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def queries_dir() -> Path:
    return data_dir("queries")


def parse_query(path: Path) -> NamedQuery:
    """Read a query file and its header comment."""
    text = path.read_text(encoding="utf-8")
    description: list[str] = []
    params: list[Param] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        match = _PARAM.match(line)
        if match:
            params.append(_param(match, path))
        elif not params:
            description.append(line.lstrip("#").strip())
    return NamedQuery(path.stem, path, " ".join(d for d in description if d), tuple(params), text)


def _param(match: re.Match[str], path: Path) -> Param:
    name = match["name"]
    flags = [f.strip() for f in (match["kind"] or "").split(",") if f.strip()]
    kinds = [f for f in flags if f != "optional"]
    kind = kinds[0] if kinds else ("class" if name == "term" else "string")
    if kind not in KINDS or len(kinds) > 1:
        raise QueryError(f"{path.name}: parameter {name!r} has unknown kind {match['kind']!r} "
                         f"(expected one of {', '.join(KINDS)})")
    return Param(name, kind, "optional" in flags, (match["text"] or "").strip())


def list_queries(folder: Path | None = None) -> list[NamedQuery]:
    return [parse_query(p) for p in sorted((folder or queries_dir()).glob("*.rq"))]


def load_query(name: str, folder: Path | None = None) -> NamedQuery:
    """A query by name (`tracks-by-cell-type`), or by path to any `.rq` file."""
    path = Path(name)
    if path.suffix == ".rq" and path.is_file():
        return parse_query(path)
    candidate = (folder or queries_dir()) / f"{name.removesuffix('.rq')}.rq"
    if "/" in name or not candidate.is_file():
        known = ", ".join(q.name for q in list_queries(folder))
        raise QueryError(f"no query named {name!r}; known queries: {known}")
    return parse_query(candidate)


# ---- resolving parameter values --------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """A class parameter as given and as bound, with how it was understood."""

    given: str
    iri: str
    how: str
    notes: tuple[str, ...] = field(default=())


def resolve_term(store: TrackStore, value: str) -> Resolved:
    """An ontology class from an IRI, a CURIE or an exact label/synonym (any case).

    Obsolete classes are replaced by what IAO:0100001 names (a query for OBI:0000011 "planned
    process" means COB:0000035). Unknown or ambiguous names are errors that list what was found.
    """
    value = value.strip()
    if not value:
        raise QueryError("an empty term was given")
    iri, how = _as_iri(value)
    if iri is not None:
        if not _known(store, iri):
            found = _by_name(store, value) if how == "CURIE" else None
            if found is None:
                raise QueryError(f"unknown term {value!r}: {iri} is in no loaded ontology and "
                                 "annotates no track")
            return _effective(store, value, *found)
        return _effective(store, value, iri, how)
    found = _by_name(store, value)
    if found is None:
        raise QueryError(f"unknown term {value!r}: no loaded ontology has a class with that "
                         "label or synonym (try the term-lookup query)")
    return _effective(store, value, *found)


def _as_iri(value: str) -> tuple[str | None, str]:
    if _SCHEME.match(value):
        try:
            ox.NamedNode(value)
        except ValueError as error:
            raise QueryError(f"{value!r} is not a valid IRI: {error}") from error
        return canonical_iri(value), "IRI"
    if _CURIE.match(value) and " " not in value:
        iri = curie_to_iri(value)
        if iri is not None:
            return iri, "CURIE"
    return None, "name"


def _known(store: TrackStore, iri: str) -> bool:
    node = str(ox.NamedNode(iri))
    return bool(store.query(
        f"ASK {{ {{ {node} a owl:Class }} UNION {{ {node} ft:descends_from ?a }} "
        f"UNION {{ ?annotation ft:term_id {node} }} }}"
    ))


def _by_name(store: TrackStore, value: str) -> tuple[str, str] | None:
    """The one class named `value`, any case: labels first, then exact, then other synonyms.

    Live classes win over obsolete ones; two live classes with the same name are ambiguous.
    """
    for tier, properties in LABEL_TIERS:
        found = _named(store, value, properties)
        live = sorted(iri for iri, obsolete in found.items() if not obsolete)
        choice = live or sorted(found)
        if len(choice) == 1:
            return choice[0], tier
        if len(choice) > 1:
            listed = ", ".join(f"{iri_to_curie(i)} ({_label(store, i) or '?'})" for i in choice)
            raise QueryError(f"ambiguous term {value!r}: it is the {tier} of {listed}; "
                             "give a CURIE or IRI")
    return None


def _named(store: TrackStore, value: str, properties: tuple[str, ...]) -> dict[str, bool]:
    """Classes with `value` as one of `properties`, any case → whether they are obsolete."""
    rows = store.ox.query(
        f"""SELECT DISTINCT ?wanted ?class ?obsolete WHERE {{
              VALUES ?property {{ {' '.join(f'<{p}>' for p in properties)} }}
              ?class ?property ?name FILTER(isIRI(?class) && LCASE(STR(?name)) = ?wanted)
              BIND(EXISTS {{ ?class owl:deprecated true }} AS ?obsolete) }}""",
        substitutions={ox.Variable("wanted"): ox.Literal(value.lower())},
        default_graph=reasoning.ontology_graphs(store) or [ox.DefaultGraph()],
        prefixes=_PREFIXES,
    )
    found: dict[str, bool] = {}
    for row in rows:
        iri = canonical_iri(row["class"].value)
        found[iri] = found.get(iri, True) and row["obsolete"].value in ("true", "1")
    return found


def _label(store: TrackStore, iri: str) -> str | None:
    rows = list(store.query(f"SELECT ?l WHERE {{ {ox.NamedNode(iri)} rdfs:label ?l }} LIMIT 1"))
    return rows[0]["l"].value if rows else None


def _effective(store: TrackStore, given: str, iri: str, how: str) -> Resolved:
    effective = reasoning.effective_term(store, iri)
    if effective == iri:
        return Resolved(given, iri, how)
    note = (f"{iri_to_curie(iri)} is obsolete; searching for its replacement "
            f"{iri_to_curie(effective)} ({_label(store, effective) or '?'})")
    return Resolved(given, effective, how, (note,))


def resolve_facet(value: str) -> str:
    """A facet name (`cell_type`, `tissue`, `ft:tissue_ancestor`, or the IRI) → the IRI of its
    track predicate (`ft:tissue_ancestor`, a path: annotations.TRACK_PATHS)."""
    name = value.strip()
    for prefix in (FT, "ft:"):
        name = name.removeprefix(prefix)
    name = name.replace("-", "_").removesuffix("_ancestor")
    name = FACET_ALIASES.get(name, name)
    if f"{name}_ancestor" not in annotations.ANCESTOR_PREDICATES:
        known = ", ".join(n.removesuffix("_ancestor") for n in annotations.ANCESTOR_PREDICATES)
        raise QueryError(f"unknown facet {value!r}; known facets: {known}")
    return f"{FT}{name}_ancestor"


# ---- binding and running ---------------------------------------------------------------------


@dataclass
class Bound:
    """Substitutions ready for Oxigraph, and notes on how each value was understood."""

    substitutions: dict[ox.Variable, ox.NamedNode | ox.Literal]
    notes: list[str]


def bind(store: TrackStore, query: NamedQuery, values: dict[str, str]) -> Bound:
    """Check and resolve parameter values; unknown, missing or bad values are QueryErrors."""
    unknown = sorted(set(values) - {p.name for p in query.params})
    if unknown:
        expected = ", ".join(p.name for p in query.params) or "none"
        raise QueryError(f"{query.name} has no parameter {', '.join(unknown)} "
                         f"(parameters: {expected})")
    missing = [p.name for p in query.params if not p.optional and p.name not in values]
    if missing:
        raise QueryError(f"{query.name} needs --param {'=… --param '.join(missing)}=…")
    bound = Bound({}, [])
    for param in query.params:
        if param.name not in values:
            continue
        value = values[param.name]
        if param.kind == "class":
            resolved = resolve_term(store, value)
            term: ox.NamedNode | ox.Literal = ox.NamedNode(resolved.iri)
            label = _label(store, resolved.iri)
            bound.notes.append(f"{param.name} = {value!r} → {iri_to_curie(resolved.iri)}"
                               f"{f' ({label})' if label else ''} [{resolved.how}]")
            bound.notes.extend(resolved.notes)
        elif param.kind == "facet":
            term = ox.NamedNode(resolve_facet(value))
        else:
            term = ox.Literal(value)
        bound.substitutions[ox.Variable(param.name)] = term
    return bound


def run(
    store: TrackStore, query: NamedQuery, values: dict[str, str]
) -> tuple[ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples, Bound]:
    """Bind the parameters and run the query over the store's current view."""
    bound = bind(store, query, values)
    facets = {name.value: term.value for name, term in bound.substitutions.items()}
    return store.query(virtual.rewrite(with_facets(query, facets)),
                       substitutions=bound.substitutions), bound


def with_facets(query: NamedQuery, iris: dict[str, str]) -> str:
    """The query's text with each facet parameter given in `iris` (name → track predicate IRI)
    written in where it is a predicate: a path, not a value (`virtual.bind_predicate`)."""
    text = query.text
    for param in query.params:
        if param.kind == "facet" and param.name in iris:
            text = virtual.bind_predicate(text, param.name, iris[param.name])
    return text


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` strings (from --param) → a dict; a repeated name is an error."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise QueryError(f"--param expects NAME=VALUE, got {pair!r}")
        if name.strip() in values:
            raise QueryError(f"parameter {name.strip()!r} given twice")
        values[name.strip()] = value
    return values
