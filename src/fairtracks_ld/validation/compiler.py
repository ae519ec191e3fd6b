"""Shapes → SPARQL: set-based queries over every focus node at once.

The queries are shaped for Oxigraph on large documents (Oxigraph keeps the written join order,
so the order is chosen here, per query, from cheap counts at run time):
- the value constraints of a shape on one path are one query with a flag per constraint: it
  scans the path and tests focus membership only where a constraint fails (large focus sets),
  or starts from the focus nodes (small ones);
- the "every focus node must have …" constraints of a shape (sh:minCount 1, sh:hasValue) are one
  query per shape, a flag per constraint;
- a SHACL-SPARQL constraint keeps its SELECT, joined with the focus nodes; when its WHERE clause
  is `$this $PATH ?value . REST` with REST free of `$this`, REST runs once per distinct value
  (those value sets can be materialised once and shared by the constraints on the same path);
- a SPARQL-based target is inlined as plain patterns (index lookups; a subquery would be
  evaluated whole), and a shape without focus nodes costs nothing;
- property pairs (sh:equals, sh:disjoint, sh:lessThan(OrEquals)), sh:uniqueLang, sh:closed and
  qualified value shapes are one query per constraint over the focus nodes;
- the property shapes of a property shape form a group of their own, whose focus nodes are the
  parent's value nodes;
- SPARQL that a join would change (`prebound.joinable`) and SPARQL-based constraint components
  run once per focus node with pre-bound variables (`prebound.run`).
Nested shapes (`sh:node`, `sh:not`, `sh:and`, `sh:or`, `sh:xone`) become boolean "fails"
expressions (plain FILTER tests for value constraints, EXISTS for property constraints).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import count

import pyoxigraph as ox

from fairtracks_ld.sparql.tokens import VAR
from fairtracks_ld.validation.literals import datatype_written, encode, typed
from fairtracks_ld.validation.prebound import (
    SHAPES_GRAPH,
    Prebound,
    check_policy,
    check_prebinding,
    joinable,
)
from fairtracks_ld.validation.select_text import (
    end,
    first_pattern,
    has_comment,
    mentions_this,
    projected,
    rename_this,
    selects_value,
    substitute,
    target_body,
    where,
    with_path,
)
from fairtracks_ld.validation.shapes import (
    Constraint,
    PropertyPath,
    Shape,
    ShapesGraph,
    Target,
    UnsupportedShape,
    Validator,
)
from fairtracks_ld.validation.vocab import FTS, RDF, RDFS, SH, XSD

VALUES_GRAPH = "urn:fairtracks-ld:validation:values"
VALUE = FTS + "value"  # <{VALUES_GRAPH}:{key}> fts:value ?value (values may be literals)
# Datatypes whose lexical forms can be checked with a cast (ill-typed literals fail the cast).
_CASTABLE = {XSD + t for t in ("dateTime", "date", "time", "boolean", "integer", "decimal",
                               "double", "float")}
_NODE_KINDS = {
    SH + "IRI": "!isIRI({v})",
    SH + "Literal": "!isLiteral({v})",
    SH + "BlankNode": "!isBlank({v})",
    SH + "BlankNodeOrIRI": "isLiteral({v})",
    SH + "IRIOrLiteral": "isBlank({v})",
    SH + "BlankNodeOrLiteral": "isIRI({v})",
}
_FOCUS_LEVEL = {"MinCountConstraintComponent", "HasValueConstraintComponent"}
_VALUE_LEVEL = {c + "ConstraintComponent" for c in (
    "Datatype", "NodeKind", "Class", "In", "Pattern", "MinLength", "MaxLength", "Node", "Not",
    "And", "Or", "Xone", "MinInclusive", "MaxInclusive", "MinExclusive", "MaxExclusive",
    "LanguageIn")}
_RANGES = {"MinInclusiveConstraintComponent": ("minInclusive", ">="),
           "MaxInclusiveConstraintComponent": ("maxInclusive", "<="),
           "MinExclusiveConstraintComponent": ("minExclusive", ">"),
           "MaxExclusiveConstraintComponent": ("maxExclusive", "<")}
_PAIRS = {"EqualsConstraintComponent": "equals", "DisjointConstraintComponent": "disjoint",
          "LessThanConstraintComponent": "lessThan",
          "LessThanOrEqualsConstraintComponent": "lessThanOrEquals"}


@dataclass
class Check:
    """One constraint a query reports on; `flag` names its column in batched queries."""

    shape: Shape  # sh:sourceShape
    constraint: Constraint
    messages: list[str]
    flag: str | None = None
    condition: tuple[str, int] | None = None  # value queries: (violation test, member index)

    @property
    def component(self) -> str:
        return self.constraint.component

    @property
    def path(self) -> PropertyPath | None:
        return self.shape.path


@dataclass
class FocusGroup:
    """The focus nodes of one shape with targets."""

    shape: Shape
    select: str  # SELECT DISTINCT ?this (to test emptiness and count)
    parent: int | None = None  # nested property shapes: the group whose values they check
    # nested groups: the focus nodes reached from several parent focus nodes, with how many
    # (?this ?_n), and the focus nodes one parent focus node (?_holder, bound) reaches
    routes: str | None = None
    reach: str | None = None
    holders: str | None = None  # the parent focus nodes of one focus node (?this, bound)


@dataclass
class Query:
    sparql: str
    checks: list[Check]
    group: int  # index of its FocusGroup
    per_value: bool
    needs: str | None = None  # a predicate that must occur in the data for any result
    join: str | None = None  # the same query starting from the focus nodes (small sets)
    values: ValueSet | None = None  # the distinct values it reads, if it can share them
    shared: str | None = None  # the same query reading the materialised value set
    # start from the focus nodes when they are `factor` times fewer than the path's values:
    # 3 where the other form tests membership per failing row only (value queries), 1 where
    # both forms are joins (SPARQL constraints), 0.5 where it hashes every triple of the path
    # (sh:minCount 1: a lookup per focus node costs less than hashing the path's triples)
    factor: float = 3
    prebound: Prebound | None = None  # run per focus node instead (`sparql` selects them)
    scans: str | None = None  # the predicate `sparql` scans, when it is not `needs`
    # (other predicate, the same query scanning it first): taken when it has fewer triples
    swap: tuple[str, str] | None = None
    closed: Closed | None = None  # sh:closed: `sparql` is the fallback, the rest at run time
    # a predicate: no result unless some subject has two of its triples (sh:maxCount >= 1),
    # which a count of its triples and of their distinct subjects rules out cheaply
    repeats: str | None = None


@dataclass(frozen=True)
class Closed:
    """sh:closed, compiled at run time from the data's predicates: only the triples of the
    predicates the shape does not allow are read (`pattern` holds `{PATTERN}` for them)."""

    allowed: frozenset[str]
    pattern: str  # the query, `{PATTERN}` to be replaced by a UNION over the disallowed ones
    hashed: str  # the same joined with the focus nodes (fewer than those triples)


@dataclass(frozen=True)
class ValueSet:
    """The distinct values of one path on one shape's focus nodes (shared by the SPARQL
    constraints on that path; materialised once when the engine owns the store)."""

    key: int
    scan: str  # SELECT DISTINCT ?value, path side first
    join: str  # the same, focus side first
    loose: str  # every holder's values: a superset, which the readers join with the focus nodes


@dataclass
class Plan:
    groups: list[FocusGroup] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


def term(value: ox.NamedNode | ox.BlankNode | ox.Literal) -> str:
    """A term as SPARQL text (blank nodes cannot be named in queries)."""
    if isinstance(value, ox.BlankNode):
        raise UnsupportedShape("blank nodes cannot be SHACL parameter values here")
    if isinstance(value, ox.Literal):
        return str(encode(value))
    return str(value)


def typed_term(value: ox.NamedNode | ox.BlankNode | ox.Literal) -> str:
    """A parameter as SPARQL text for comparisons (its value, not the stored term)."""
    if isinstance(value, ox.BlankNode):
        raise UnsupportedShape("blank nodes cannot be SHACL parameter values here")
    return str(value)


def compare(left: str, op: str, right: str) -> str:
    """SPARQL: `left op right` on the values as written, false when incomparable. The plain
    comparison decides for ordinary literals; only where it errs (a literal stored under a
    private datatype, or incomparable terms) are the written datatypes decoded."""
    return f"COALESCE({left} {op} {right}, COALESCE({typed(left)} {op} {typed(right)}, false))"


def settled(pattern: str) -> str:
    """A pattern evaluated whole before the filters around it (Oxigraph pushes a FILTER into
    the left side of MINUS and UNION, where a membership test would run on every row rather
    than on the few that are left; a LIMIT keeps it out)."""
    return f"{{ SELECT * WHERE {{ {pattern} }} LIMIT 1000000000000 }}"


def first_predicate(path: PropertyPath | None) -> str | None:
    """An IRI every value of the path is reached through first (None if there is none)."""
    if path is None:
        return None
    if path.kind == "iri":
        return path.iri
    if path.kind == "sequence" and path.items and path.items[0].kind == "iri":
        return path.items[0].iri
    return None


class Compiler:
    """Compiles a shapes graph. `subclasses`: targetClass needs rdfs:subClassOf* (only when the
    data graph has subclass triples)."""

    def __init__(self, graph: ShapesGraph, subclasses: bool = True) -> None:
        self.graph = graph
        self.subclasses = subclasses
        self._fresh = count()
        self.value_sets: dict[tuple[int, str], int] = {}
        self.value_set: dict[int, ValueSet] = {}  # by key: the distinct values' queries

    def var(self, stem: str = "v") -> str:
        return f"?_{stem}{next(self._fresh)}"

    def head(self, *prefix_maps: dict[str, str]) -> str:
        merged = dict(self.graph.prefixes)
        for prefixes in prefix_maps:
            merged.update(prefixes)
        return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(merged.items()))

    # -- targets ------------------------------------------------------------------------------

    def _target(self, target: Target) -> str:
        """A pattern binding ?this to the target's nodes."""
        if target.kind == "sparql":
            return f"{{ {target.value} }}"
        if target.kind == "values":  # a nested property shape: the values of its parent
            parent, path = target.value  # type: ignore[misc]
            holder = self.var("p")
            return f"{{ {self.focus(parent, -1, holder)} {holder} {path.sparql()} ?this . }}"
        value = term(target.value)  # type: ignore[arg-type]
        if target.kind == "class":
            if self.subclasses:
                return f"?this <{RDF}type>/<{RDFS}subClassOf>* {value} ."
            return f"?this <{RDF}type> {value} ."
        if target.kind == "node":
            return f"VALUES ?this {{ {value} }}"
        if target.kind == "subjectsOf":
            return f"?this {value} ?_member ."
        return f"?_member {value} ?this ."

    def _union(self, patterns: list[str]) -> str:
        if len(patterns) == 1:
            return patterns[0]
        return " UNION ".join(f"{{ {p} }}" for p in patterns)

    def focus_select(self, shape: Shape) -> str:
        for target in shape.targets:
            if target.kind == "sparql":
                check_policy(str(target.value))
        prefixes = {p: ns for t in shape.targets for p, ns in t.prefixes.items()}
        body = self._union([self._target(t) for t in shape.targets])
        return self.head(prefixes) + f"SELECT DISTINCT ?this WHERE {{ {body} }}"

    def member(self, shape: Shape, group: int, var: str = "?this") -> str:
        """A pattern that holds when `var` (bound) is a focus node of the shape."""
        patterns = []
        for target in shape.targets:
            if target.kind == "sparql":
                patterns.append(self._inline(str(target.value), var, bound=True))
            elif target.kind == "node":
                patterns.append(f"VALUES {var} {{ {term(target.value)} }}")  # type: ignore[arg-type]
            elif target.kind == "values":  # from the bound node up to its parent (join order)
                parent, path = target.value  # type: ignore[misc]
                holder = self.var("p")
                # a nested EXISTS of one pattern each: Oxigraph evaluates a two-pattern EXISTS
                # in time growing with the rows already seen (measured 120 s vs 0.1 s on 15k)
                patterns.append(f"{{ {holder} {path.sparql()} {var} . "
                                f"FILTER EXISTS {{ {self.member(parent, -1, holder)} }} }}")
            else:  # text the compiler wrote itself (`_target`), not user SPARQL
                patterns.append(self._target(target).replace("?this", var))
        return self._union(patterns)

    def _inline(self, select: str, var: str, bound: bool) -> str:
        """A SPARQL target's WHERE body with ?this := var and its other variables renamed: as
        a membership test from a bound node (`bound`), or as plain patterns that the rest of a
        query joins with index lookups (a subquery would be evaluated whole, then hashed)."""
        target = target_body(select)
        if target is None or target.mentions("select"):
            renamed = rename_this(select, var)
            return f"{{ {renamed}\n}}" if "#" in renamed else f"{{ {renamed} }}"
        stem = self.var("t")[1:]
        body = substitute(target.text, target.tokens,
                          lambda t: None if t.kind != VAR else var if t.text[1:] == "this"
                          else f"?{stem}_{t.text[1:]}", target.offset)
        if bound and not target.mentions("bind", "optional", "minus", "values") \
                and target.lines_movable():
            # patterns on the bound node first: Oxigraph keeps the written join order
            on_this = target.line_mentions_this()
            lines = [(number not in on_this, line)
                     for number, line in enumerate(body.split("\n")) if line.strip()]
            body = "\n".join(line for _, line in sorted(lines, key=lambda pair: pair[0]))
        # a comment may end the body: the closing brace then goes on a line of its own
        closing = "\n}" if has_comment(target.text, target.tokens, target.offset) else " }"
        return f"{{ {body}{closing}"

    def focus(self, shape: Shape, group: int, var: str = "?this") -> str:
        """A pattern enumerating the focus nodes (into `var`; `_target` is the compiler's own
        text, so a plain replace suffices there)."""
        return self._union([self._inline(str(t.value), var, bound=False) if t.kind == "sparql"
                            else self._target(t).replace("?this", var) for t in shape.targets])

    # -- top level ----------------------------------------------------------------------------

    def compile(self) -> Plan:
        plan = Plan()
        for shape in self.graph.shapes:
            if shape.deactivated or not shape.targets:
                continue
            self.compile_group(plan, shape, 0, None)
        return plan

    def compile_group(self, plan: Plan, shape: Shape, depth: int, parent: int | None) -> None:
        """The queries of one shape with targets; the property shapes of a property shape
        (`sh:property` under a shape with `sh:path`) get a group of their own, whose focus
        nodes are the value nodes of their parent."""
        if depth > 8:
            raise UnsupportedShape(f"{shape.node}: sh:property nested more than 8 deep")
        index = len(plan.groups)
        plan.groups.append(FocusGroup(shape, self.focus_select(shape), parent))
        if parent is not None:
            holder, path = plan.groups[parent].shape, shape.targets[0].value[1]  # type: ignore
            head = self.head(shape.targets[0].prefixes)
            plan.groups[-1].routes = (
                head + "SELECT ?this (COUNT(*) AS ?_n) WHERE { { SELECT DISTINCT ?_holder ?this "
                f"WHERE {{ {self.focus(holder, parent, '?_holder')} ?_holder {path.sparql()} "
                "?this } } } GROUP BY ?this HAVING (COUNT(*) > 1)")
            plan.groups[-1].reach = (head + "SELECT DISTINCT ?_holder ?this WHERE { "
                                     f"?_holder {path.sparql()} ?this }}")
            plan.groups[-1].holders = (
                head + f"SELECT DISTINCT ?_holder ?this WHERE {{ ?_holder {path.sparql()} ?this . "
                f"FILTER EXISTS {{ {self.member(holder, parent, '?_holder')} }} }}")
        prefixes = {p: ns for t in shape.targets for p, ns in t.prefixes.items()}
        batched: list[Check] = []
        by_path: dict[str, list[Check]] = {}
        owners = [shape] if shape.path is not None else [shape, *shape.properties]
        for owner in owners:
            if owner.deactivated:
                continue
            if owner.path is not None:
                for nested in owner.properties:
                    if not nested.deactivated:
                        self.compile_group(plan, replace(
                            nested, targets=[Target("values", (shape, owner.path), prefixes)]),
                            depth + 1, index)
            for constraint in owner.constraints:
                name = constraint.component[len(SH):]
                check = Check(owner, constraint, owner.messages)
                limit = constraint.params.get("minCount")
                if name in _FOCUS_LEVEL and (limit is None or int(limit.value) == 1):
                    batched.append(check)
                elif name in _VALUE_LEVEL and owner.path is not None:
                    by_path.setdefault(owner.path.sparql(), []).append(check)
                else:
                    plan.queries.append(self.constraint_query(check, index, shape,
                                                              prefixes))
        for path, checks in by_path.items():
            entry = (index, shape, prefixes, checks, self.value_parts(checks, index, shape))
            query = self.value_query(path, [entry])
            key = self.value_sets.get((index, path))
            if key is not None:  # SPARQL constraints share the path's distinct values
                self.read_shared(query, self.value_set[key], shape, index, path, prefixes)
            plan.queries.append(query)
        if batched:
            plan.queries.append(self.focus_level_query(batched, index, shape, prefixes))

    def value_parts(self, checks: list[Check], group: int, shape: Shape) -> list[str]:
        """Per check, the expression that holds when a value of a focus node violates it."""
        return [self.violation(c.component[len(SH):], c.constraint.params, "?value")
                for c in checks]

    def value_query(self, path: str, entries: list) -> Query:
        """Every value constraint on one path of a shape (or of several shapes: `entries`): one
        pass over the path's values.

        The path is scanned once and membership is tested only where a constraint fails; a path
        of one shape also gets the form that joins from its focus nodes (small focus sets; the
        engine picks one at run time). Merging shapes that share a path measured no faster
        (the join form then goes), so the compiler keeps one query per shape and path.
        """
        prefixes: dict[str, str] = {}
        checks: list[Check] = []
        tests = []
        for group, shape, group_prefixes, group_checks, conditions in entries:
            prefixes.update(group_prefixes)
            failing = " || ".join(f"({c})" for c in conditions)
            tests.append(f"IF({failing}, EXISTS {{ {self.member(shape, group)} }}, false)")
            for check, condition in zip(group_checks, conditions, strict=True):
                check.flag = f"_f{len(checks)}"
                checks.append(check)
                check.condition = (condition, len(tests) - 1)
        member_of = {i: f"EXISTS {{ {self.member(e[1], e[0])} }}" for i, e in enumerate(entries)}
        flags = " ".join(f"(({c.condition[0]}) && {member_of[c.condition[1]]} AS ?{c.flag})"
                         for c in checks if c.condition)
        head = self.head(prefixes) + f"SELECT ?this ?value {flags} WHERE {{\n"
        scan = f"{head}?this {path} ?value .\nFILTER({' || '.join(tests)})\n}}"
        needs = first_predicate(entries[0][3][0].shape.path)
        if len(entries) > 1:
            return Query(scan, checks, -1, True, needs)
        group, shape = entries[0][0], entries[0][1]
        any_fails = " || ".join(f"({c.condition[0]})" for c in checks if c.condition)
        join_flags = " ".join(f"({c.condition[0]} AS ?{c.flag})" for c in checks if c.condition)
        join = (f"{self.head(prefixes)}SELECT ?this ?value {join_flags} WHERE {{\n"
                f"{self.focus(shape, group)}\n?this {path} ?value .\nFILTER({any_fails})\n}}")
        return Query(scan, checks, group, True, needs, join)

    def read_shared(self, query: Query, values: ValueSet, shape: Shape, group: int, path: str,
                    prefixes: dict[str, str]) -> None:
        """The value constraints of a path whose distinct values are materialised for SPARQL
        constraints: those values tested, and the focus nodes found for the failing ones only
        (no second pass over the path's triples; same pairs as the scan)."""
        fails = " || ".join(f"({c.condition[0]})" for c in query.checks if c.condition)
        flags = " ".join(f"({c.condition[0]} AS ?{c.flag})" for c in query.checks if c.condition)
        query.values = values
        query.shared = (f"{self.head(prefixes)}SELECT ?this ?value {flags} WHERE {{\n"
                        f"GRAPH <{VALUES_GRAPH}> {{ <{VALUES_GRAPH}:{values.key}> <{VALUE}> "
                        f"?value }}\nFILTER({fails})\n?this {path} ?value .\n"
                        f"FILTER EXISTS {{ {self.member(shape, group)} }}\n}}")

    def focus_level_query(self, checks: list[Check], group: int, shape: Shape,
                          prefixes: dict[str, str]) -> Query:
        """sh:minCount 1 and sh:hasValue of one shape: a flag per constraint, one scan."""
        tests, binds, flags = [], [], []
        for index, check in enumerate(checks):
            flag = f"?_f{index}"
            check.flag = flag[1:]
            path = check.shape.path.sparql() if check.shape.path else None
            if "hasValue" in check.constraint.params:
                value = term(check.constraint.params["hasValue"])
                test = (f"NOT EXISTS {{ ?this {path} {value} }}" if path
                        else f"!sameTerm(?this, {value})")
            else:
                test = f"NOT EXISTS {{ ?this {path} ?_any{index} }}"
            tests.append(test)
            binds.append(f"BIND({test} AS {flag})")
            flags.append(flag)
        # the tests filter first, the flags are bound for the failing nodes only (measured
        # 1.12 s vs 1.44 s for eleven sh:minCount 1 on 100k tracks)
        sparql = (f"SELECT ?this {' '.join(flags)} WHERE {{\n{self.focus(shape, group)}\n"
                  f"FILTER({' || '.join(tests)})\n" + "\n".join(binds) + "\n}")
        head = self.head(prefixes)
        only = checks[0].shape.path
        if len(checks) > 1 or "hasValue" in checks[0].constraint.params or only is None \
                or only.kind != "iri":
            return Query(head + sparql, checks, group, False)
        # one sh:minCount 1: a hash anti-join with the path's triples, where they are more
        # than twice the focus nodes (measured on 100k tracks: 100k focus nodes, 259k
        # triples: 0.60 s hashed, 0.31 s looked up)
        scan = (f"SELECT ?this ?_f0 WHERE {{\n{self.focus(shape, group)}\n"
                f"MINUS {{ ?this {only.sparql()} ?_any0 }}\nBIND(true AS ?_f0)\n}}")
        return Query(head + scan, checks, group, False, join=head + sparql, scans=only.iri,
                     factor=0.5)

    def constraint_query(self, check: Check, group: int, shape: Shape,
                         prefixes: dict[str, str]) -> Query:
        owner, constraint = check.shape, check.constraint
        name = constraint.component[len(SH):]
        params = constraint.params
        if "validator" in params:
            return self.component_query(check, group, shape, prefixes)
        if name == "SPARQLConstraintComponent":
            check_prebinding(params["select"], str(constraint.node))
            if not joinable(params["select"]):
                return self.prebound_query(check, group, shape, prefixes, params["select"],
                                           False, params["prefixes"], {})
            return self.sparql_query(check, group, shape, prefixes)
        path = owner.path.sparql() if owner.path else None
        needs = first_predicate(owner.path)
        head = self.head(prefixes)
        if name in ("MinCountConstraintComponent", "MaxCountConstraintComponent"):
            key = "minCount" if name.startswith("Min") else "maxCount"
            limit = int(params[key].value)
            if key == "maxCount" and limit == 0:
                sparql = (f"SELECT DISTINCT ?this WHERE {{ ?this {path} ?_any "
                          f"FILTER EXISTS {{ {self.member(shape, group)} }} }}")
                return Query(head + sparql, [check], group, False, needs)
            op, optional = (">", "") if key == "maxCount" else ("<", "OPTIONAL ")
            sparql = (f"SELECT ?this WHERE {{\n{self.focus(shape, group)}\n"
                      f"{optional}{{ ?this {path} ?value }}\n}} "
                      f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) {op} {limit})")
            if key == "minCount" or owner.path.kind != "iri":
                return Query(head + sparql, [check], group, False,
                             needs if key == "maxCount" else None)
            # the path's triples grouped (a scan, no lookup per focus node), membership tested
            # on the subjects with too many values only
            scan = (f"SELECT ?this WHERE {{\n{{ SELECT ?this WHERE {{ ?this {path} ?value }} "
                    f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {limit}) }}\n"
                    f"FILTER EXISTS {{ {self.member(shape, group)} }}\n}}")
            return Query(head + scan, [check], group, False, needs, head + sparql,
                         repeats=needs if limit >= 1 else None)
        if name in _PAIRS or name in ("UniqueLangConstraintComponent",
                                      "ClosedConstraintComponent") or name.startswith("Qualified"):
            return self.focus_query(check, group, shape, head)
        if path is not None:
            raise ValueError(f"{name} on a property shape is compiled with its path")
        condition = self.value_condition(name, params, "?this")
        sparql = (f"SELECT ?this ?value WHERE {{\n{self.focus(shape, group)}\n"
                  f"BIND(?this AS ?value)\n{condition}\n}}")
        return Query(head + sparql, [check], group, True)

    def component_query(self, check: Check, group: int, shape: Shape,
                        prefixes: dict[str, str]) -> Query:
        """A SPARQL-based constraint component: its validator, parameters pre-bound."""
        validator: Validator = check.constraint.params["validator"]
        arguments = check.constraint.params["arguments"]
        check_prebinding(validator.text, str(validator.node), tuple(arguments))
        check.messages = validator.messages or check.shape.messages
        return self.prebound_query(check, group, shape, prefixes, validator.text, validator.ask,
                                   validator.prefixes, arguments)

    def prebound_query(self, check: Check, group: int, shape: Shape, prefixes: dict[str, str],
                       text: str, ask: bool, own_prefixes: dict[str, str],
                       arguments: dict) -> Query:
        """User SPARQL run once per focus node (or value node) with pre-bound variables."""
        if check.component == SH + "SPARQLConstraintComponent":
            check.messages = check.constraint.params["messages"] or check.shape.messages
        owner = check.shape
        path = owner.path.sparql() if owner.path else None
        head = self.head(own_prefixes)
        bindings = {name: encode(v) if isinstance(v, ox.Literal) else v
                    for name, v in arguments.items()}
        bindings["currentShape"] = owner.node
        bindings["shapesGraph"] = ox.NamedNode(SHAPES_GRAPH)
        values = (f"SELECT DISTINCT ?value WHERE {{ $this {path} ?value }}"
                  if ask and path else None)
        body = with_path(text, path) if path else text
        prebound = Prebound(head + body, ask, owner, bindings, values)
        return Query(self.focus_select(shape), [check], group, True, prebound=prebound)

    def focus_query(self, check: Check, group: int, shape: Shape, head: str) -> Query:
        """Property-pair, uniqueLang, closed and qualified constraints: one query over the
        focus nodes (?value: the value the result names, ?_key: what tells two results of one
        focus node apart, ?_path: a result path read from the data)."""
        name = check.component[len(SH):]
        params = check.constraint.params
        owner = check.shape
        path = owner.path.sparql() if owner.path else None
        values = f"?this {path} ?value ." if path else "BIND(?this AS ?value)"
        focus = self.focus(shape, group)
        # IRI paths also get forms that scan the path's triples and test focus membership on
        # the rows that fail only (no index lookup per focus node); the engine picks by counts
        scan_path = owner.path is not None and owner.path.kind == "iri"
        member = f"FILTER EXISTS {{ {self.member(shape, group)} }}"
        needs = first_predicate(owner.path) if scan_path else None
        if name in _PAIRS:
            other = f"<{params[_PAIRS[name]].value}>"
            if name == "EqualsConstraintComponent":
                back = (f"FILTER NOT EXISTS {{ ?this {path} ?value }}" if path
                        else "FILTER(!sameTerm(?value, ?this))")
                body = (f"{{ {focus} {values} FILTER NOT EXISTS {{ ?this {other} ?value }} }} "
                        f"UNION {{ {focus} ?this {other} ?value {back} }}")
                sparql = f"SELECT DISTINCT ?this ?value ?_key WHERE {{\n{body}\n}}"
                if not scan_path:
                    return Query(head + sparql, [check], group, True)
                # hash anti-joins of the two predicates' triples
                differ = settled(
                    f"{{ ?this {path} ?value MINUS {{ ?this {other} ?value }} }} "
                    f"UNION {{ ?this {other} ?value MINUS {{ ?this {path} ?value }} }}")
                scan = f"SELECT DISTINCT ?this ?value ?_key WHERE {{\n{differ}\n{member}\n}}"
                return Query(head + scan, [check], group, True, join=head + sparql,
                             scans=needs)
            if name == "DisjointConstraintComponent":
                body = f"{values} ?this {other} ?value ."
                swapped = f"?this {other} ?value . {values}"
            else:
                op = "<" if name == "LessThanConstraintComponent" else "<="
                test = f"FILTER(!{compare('?value', op, '?_key')})"  # a result per pair
                body = f"{values} ?this {other} ?_key . {test}"
                swapped = f"?this {other} ?_key . {values} {test}"
            sparql = f"SELECT DISTINCT ?this ?value ?_key WHERE {{\n{focus}\n{body}\n}}"
            if not scan_path:
                return Query(head + sparql, [check], group, True)
            # the pairs settled first: Oxigraph would test membership right after the first
            # pattern, on every row instead of the few failing pairs (measured 32 vs 23 ms)
            scan, swap = (f"SELECT DISTINCT ?this ?value ?_key WHERE {{\n{settled(b)}\n"
                          f"{member}\n}}" for b in (body, swapped))
            return Query(head + scan, [check], group, True, needs, head + sparql,
                         swap=(params[_PAIRS[name]].value, head + swap))
        if name == "UniqueLangConstraintComponent":
            sparql = (f"SELECT DISTINCT ?this ?_key WHERE {{\n{focus}\n?this {path} ?_a . "
                      f"?this {path} ?_b . BIND(lang(?_a) AS ?_key) FILTER(?_key != \"\" && "
                      f"!sameTerm(?_a, ?_b) && lang(?_b) = ?_key)\n}}")
            if not scan_path:
                return Query(head + sparql, [check], group, False)
            # the subjects with more than one value first (a group on the subject alone),
            # languages compared for those only (measured 12 vs 20 ms on 15,000 subjects)
            several = (f"{{ SELECT ?this WHERE {{ ?this {path} ?_a }} GROUP BY ?this "
                       "HAVING (COUNT(*) > 1) }")
            scan = (f"SELECT ?this ?_key WHERE {{\n{{ SELECT ?this ?_key WHERE {{ {several} "
                    f"?this {path} ?_a BIND(lang(?_a) AS ?_key) FILTER(?_key != \"\") }} "
                    f"GROUP BY ?this ?_key HAVING (COUNT(DISTINCT ?_a) > 1) }}\n{member}\n}}")
            return Query(head + scan, [check], group, False, needs, head + sparql)
        if name == "ClosedConstraintComponent":
            allowed = ", ".join(f"<{p}>" for p in params["allowed"])
            test = f"FILTER(?_path NOT IN ({allowed}))" if allowed else ""
            sparql = (f"SELECT ?this ?_path ?value WHERE {{\n{focus}\n"
                      f"?this ?_path ?value . {test}\n}}")
            pattern = "SELECT ?this ?_path ?value WHERE {\n{PATTERN}\n" + member + "\n}"
            hashed = (f"SELECT ?this ?_path ?value WHERE {{\n{{ SELECT ?this WHERE {{ {focus} }} }}"
                      "\n{ SELECT * WHERE { {PATTERN} } }\n}")
            return Query(head + sparql, [check], group, True, closed=Closed(
                frozenset(params["allowed"]), head + pattern, head + hashed))
        conforming = self.qualified_conforms(owner, params, "?value")
        op = ">" if params["max"] else "<"
        values = (f"OPTIONAL {{ ?this {path} ?value }}" if owner.path.kind == "iri" else
                  f"OPTIONAL {{ SELECT DISTINCT ?this ?value WHERE {{ {focus} ?this {path} "
                  "?value } }")  # an IRI path gives each value once
        sparql = (f"SELECT ?this WHERE {{\n{focus}\n{values}\n"
                  f"BIND(IF(BOUND(?value) && {conforming}, 1, 0) AS ?_n)\n}} "
                  f"GROUP BY ?this HAVING (SUM(?_n) {op} {params['limit']})")
        limit = params["limit"]
        if not scan_path or (limit == 0 and not params["max"]):
            return Query(head + sparql, [check], group, False)
        # the conforming values of the path's triples (the failing values hash-subtracted
        # where they can be listed), counted per subject
        failing = None if params["disjoint"] else self.failing(params["shape"], "?value")
        values = (f"?this {path} ?value FILTER({conforming})" if failing is None else
                  f"?this {path} ?value MINUS {{ {failing} }}")
        at_least = ">" if params["max"] else ">="
        counted = (f"SELECT ?this WHERE {{ {values} }} "
                   f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) {at_least} {limit})")
        if params["max"]:
            scan = f"SELECT ?this WHERE {{\n{{ {counted} }}\n{member}\n}}"
            return Query(head + scan, [check], group, False, needs, head + sparql)
        if limit == 1:
            counted = values
        scan = f"SELECT ?this WHERE {{\n{focus}\nMINUS {{ {counted} }}\n}}"
        return Query(head + scan, [check], group, False, join=head + sparql, scans=needs)

    def failing(self, shape: Shape, v: str) -> str | None:
        """A pattern listing the nodes (into `v`) that do not conform to a property shape of
        value constraints on an IRI path (None for any other shape): the values that violate
        one, read from the path's triples."""
        names = [c.component[len(SH):] for c in shape.constraints]
        if shape.deactivated or shape.path is None or shape.path.kind != "iri" \
                or shape.properties or not names or not set(names) <= _VALUE_LEVEL:
            return None
        value = self.var()
        tests = " || ".join(f"({self.violation(name, c.params, value)})"
                            for name, c in zip(names, shape.constraints, strict=True))
        return f"{v} {shape.path.sparql()} {value} . FILTER({tests})"

    def qualified_conforms(self, owner: Shape, params: dict, v: str) -> str:
        """True when `v` conforms to the qualified value shape (and, with
        sh:qualifiedValueShapesDisjoint, to none of its siblings)."""
        tests = [f"!{self.fails(params['shape'], v)}"]
        if params["disjoint"]:
            tests += [self.fails(sibling, v)
                      for sibling in self.graph.siblings(owner.node, params["qualified"])]
        return "(" + " && ".join(tests) + ")"

    def sparql_query(self, check: Check, group: int, shape: Shape,
                     prefixes: dict[str, str]) -> Query:
        """The constraint's own SELECT joined with the focus nodes: at the end of its WHERE
        clause (large focus sets), or at its start (small ones; the engine picks).

        When the WHERE clause is `$this $PATH ?value . REST` and REST never mentions `$this`,
        REST only depends on the value: it is evaluated once per distinct value (a document has
        100k term_id triples but a few thousand distinct terms), then joined back. Same results,
        since joins commute; only the evaluation order changes.
        """
        params = check.constraint.params
        select: str = params["select"]
        check.messages = params["messages"] or check.shape.messages
        head = self.head(prefixes, params["prefixes"])
        per_value = selects_value(select)
        path = check.shape.path
        steps = path.sparql() if path is not None else ""
        clause = where(select)
        after = first_pattern(clause) if path else None
        needs = first_predicate(path) if after is not None else None
        holder, member = (self.member(shape, group, v) for v in ("?_holder", "$this"))
        if after is not None and not mentions_this(clause.tokens[after:clause.last]):
            first = end(clause.tokens[after - 1])  # after the pattern's `.`
            rest = substitute(select[first:clause.close], clause.tokens,
                              lambda t: steps if t.kind == VAR and t.text[1:] == "PATH" else None,
                              first)
            projection = select[:clause.start]
            variables = projected(clause)
            tail = select[clause.close + 1:]

            def factored(small: bool) -> str:
                values = (f"{self.focus(shape, group, '?_holder')} ?_holder {steps} ?value ."
                          if small else f"?_holder {steps} ?value . {holder}")
                back = (f"{self.focus(shape, group, '$this')}\n  $this {steps} ?value ."
                        if small else f"$this {steps} ?value .\n  {member}")
                return (f"{head}{projection}WHERE {{\n  {{ SELECT DISTINCT "
                        f"{' '.join('?' + v for v in variables)} WHERE {{\n"
                        f"    {{ SELECT DISTINCT ?value WHERE {{ {values} }} }}\n{rest}\n"
                        f"  }} }}\n  {back}\n}}{tail}")

            key = self.value_sets.setdefault((group, steps), len(self.value_sets))
            distinct = {small: (f"SELECT DISTINCT ?value WHERE {{ "
                                f"{self.focus(shape, group, '?_holder')} ?_holder {steps} "
                                f"?value . }}" if small else
                                f"SELECT DISTINCT ?value WHERE {{ ?_holder {steps} ?value . "
                                f"{holder} }}") for small in (False, True)}
            shared = (f"{head}{projection}WHERE {{\n  {{ SELECT DISTINCT "
                      f"{' '.join('?' + v for v in variables)} WHERE {{\n"
                      f"    GRAPH <{VALUES_GRAPH}> {{ <{VALUES_GRAPH}:{key}> <{VALUE}> ?value }}"
                      f"\n{rest}\n"
                      f"  }} }}\n  $this {steps} ?value .\n  {member}\n}}{tail}")
            loose = f"SELECT DISTINCT ?value WHERE {{ ?_holder {steps} ?value . }}"
            value_set = self.value_set.setdefault(
                key, ValueSet(key, head + distinct[False], head + distinct[True], head + loose))
            return Query(factored(False), [check], group, per_value, needs, factored(True),
                         value_set, shared, 1)
        select = with_path(select, steps)
        clause = where(select)
        last = select[:clause.close] + f"\n  {member}\n" + select[clause.close:]
        start = (select[:clause.body] + f"\n  {self.focus(shape, group, '$this')}\n"
                 + select[clause.body:])
        return Query(head + last, [check], group, per_value, needs, head + start, factor=1)

    # -- value conditions ---------------------------------------------------------------------

    def value_condition(self, name: str, params: dict, v: str) -> str:
        """A FILTER that keeps the value nodes violating one value-based constraint."""
        return f"FILTER({self.violation(name, params, v)})"

    def violation(self, name: str, params: dict, v: str) -> str:
        """A boolean expression, true when value `v` violates one value-based constraint."""
        if name == "DatatypeConstraintComponent":
            datatype = params["datatype"].value
            # (a language-tagged literal's datatype is rdf:langString, never xsd:string)
            ok = f"isLiteral({v}) && datatype({v}) = <{datatype}>"
            if datatype in _CASTABLE:  # the stored term cast: no string made (measured -30 %)
                ok += f" && COALESCE(isLiteral(<{datatype}>({v})), false)"
            if datatype.startswith(XSD) and datatype != XSD + "string":
                return f"!(({ok}) || (isLiteral({v}) && datatype({v}) = " \
                       f"<{datatype_written(datatype)}>))"
            return f"!({ok})"
        if name == "NodeKindConstraintComponent":
            return _NODE_KINDS[params["nodeKind"].value].format(v=v)
        if name == "ClassConstraintComponent":
            cls = term(params["class"])
            types = f"<{RDF}type>/<{RDFS}subClassOf>*" if self.subclasses else f"<{RDF}type>"
            return f"NOT EXISTS {{ {v} {types} {cls} }}"
        if name == "InConstraintComponent":
            allowed = " || ".join(f"sameTerm({v}, {term(t)})" for t in params["in"]) or "false"
            return f"!({allowed})"
        if name == "HasValueConstraintComponent":
            return f"!sameTerm({v}, {term(params['hasValue'])})"
        if name == "PatternConstraintComponent":
            pattern = ox.Literal(params["pattern"].value)
            flags = ox.Literal(params.get("flags", ""))
            return f"(isBlank({v}) || !REGEX(STR({v}), {pattern}, {flags}))"
        if name in ("MinLengthConstraintComponent", "MaxLengthConstraintComponent"):
            key = "minLength" if name.startswith("Min") else "maxLength"
            op = "<" if key == "minLength" else ">"
            limit = int(params[key].value)
            return f"(isBlank({v}) || STRLEN(STR({v})) {op} {limit})"
        if name in _RANGES:
            key, op = _RANGES[name]
            return f"!{compare(v, op, typed_term(params[key]))}"
        if name == "LanguageInConstraintComponent":
            ranges = " || ".join(f"langMatches(lang({v}), {ox.Literal(r.value)})"
                                 for r in params["languageIn"]) or "false"
            return f"!(isLiteral({v}) && lang({v}) != \"\" && ({ranges}))"
        if name == "NodeConstraintComponent":
            return self.fails(params["node"], v)
        if name == "NotConstraintComponent":
            return f"!({self.fails(params['not'], v)})"
        if name in ("AndConstraintComponent", "OrConstraintComponent",
                    "XoneConstraintComponent"):
            key = {"And": "and", "Or": "or", "Xone": "xone"}[name[:-len("ConstraintComponent")]]
            fails = [self.fails(shape, v) for shape in params[key]]
            if key == "and":
                return "(" + (" || ".join(fails) or "false") + ")"
            if key == "or":
                return "(" + (" && ".join(fails) or "true") + ")"
            conforming = " + ".join(f"IF({f}, 0, 1)" for f in fails) or "0"
            return f"(({conforming}) != 1)"
        raise UnsupportedShape(f"constraint component sh:{name} is not supported here")

    # -- nested shapes ------------------------------------------------------------------------

    def fails(self, shape: Shape, node: str) -> str:
        """A boolean expression, true iff `node` (bound) does not conform to `shape`.

        Value constraints of node shapes stay plain expressions (no EXISTS), which keeps
        `sh:or` / `sh:not` over patterns as cheap as a FILTER.
        """
        if shape.deactivated:
            return "false"
        parts = [self.constraint_fails(shape, c, node) for c in shape.constraints]
        if shape.path is None:
            parts += [self.fails(p, node) for p in shape.properties if not p.deactivated]
        else:  # nested property shapes apply to the value nodes
            for nested in shape.properties:
                if not nested.deactivated:
                    value = self.var()
                    parts.append(f"EXISTS {{ {node} {shape.path.sparql()} {value} . "
                                 f"FILTER({self.fails(nested, value)}) }}")
        return "(" + (" || ".join(parts) or "false") + ")"

    def constraint_fails(self, shape: Shape, constraint: Constraint, node: str) -> str:
        name = constraint.component[len(SH):]
        params = constraint.params
        if name == "SPARQLConstraintComponent" or "validator" in params:
            raise UnsupportedShape(f"{shape.node}: SPARQL constraints (sh:sparql) inside "
                                   "sh:node/sh:not/sh:and/sh:or/sh:xone are not supported")
        first, second = self.var(), self.var()
        if name == "ClosedConstraintComponent":
            allowed = ", ".join(f"<{p}>" for p in params["allowed"])
            test = f"FILTER({first} NOT IN ({allowed}))" if allowed else ""
            return f"EXISTS {{ {node} {first} {second} . {test} }}"
        if name in ("EqualsConstraintComponent", "DisjointConstraintComponent") \
                and shape.path is None:
            other = f"<{params[_PAIRS[name]].value}>"
            if name == "DisjointConstraintComponent":
                return f"EXISTS {{ {node} {other} {node} }}"
            return (f"(NOT EXISTS {{ {node} {other} {node} }} || EXISTS {{ {node} {other} "
                    f"{first} FILTER(!sameTerm({first}, {node})) }})")
        if shape.path is None:
            return self.violation(name, params, node)
        path = shape.path.sparql()
        if name in _PAIRS:
            other = f"<{params[_PAIRS[name]].value}>"
            if name == "EqualsConstraintComponent":
                return (f"(EXISTS {{ {node} {path} {first} FILTER NOT EXISTS {{ {node} {other} "
                        f"{first} }} }} || EXISTS {{ {node} {other} {first} FILTER NOT EXISTS "
                        f"{{ {node} {path} {first} }} }})")
            if name == "DisjointConstraintComponent":
                return f"EXISTS {{ {node} {path} {first} . {node} {other} {first} }}"
            op = "<" if name == "LessThanConstraintComponent" else "<="
            return (f"EXISTS {{ {node} {path} {first} . {node} {other} {second} "
                    f"FILTER(!{compare(first, op, second)}) }}")
        if name == "UniqueLangConstraintComponent":
            return (f"EXISTS {{ {node} {path} {first} . {node} {path} {second} "
                    f"FILTER(lang({first}) != \"\" && !sameTerm({first}, {second}) && "
                    f"lang({first}) = lang({second})) }}")
        if name.startswith("Qualified"):
            conforming = self.qualified_conforms(shape, params, first)
            if params["limit"] == 0 and params["max"]:
                return f"EXISTS {{ {node} {path} {first} FILTER({conforming}) }}"
            if params["limit"] == 1 and not params["max"]:
                return f"NOT EXISTS {{ {node} {path} {first} FILTER({conforming}) }}"
            raise UnsupportedShape(f"{shape.node}: sh:qualifiedValueShape with count "
                                   f"{params['limit']} inside sh:node/sh:not/sh:and/sh:or/"
                                   "sh:xone or a qualified value shape")
        if name == "HasValueConstraintComponent":
            return f"NOT EXISTS {{ {node} {path} {term(params['hasValue'])} }}"
        if name in ("MinCountConstraintComponent", "MaxCountConstraintComponent"):
            key = "minCount" if name.startswith("Min") else "maxCount"
            limit = int(params[key].value)
            # at least n distinct values: n patterns, pairwise distinct (n small)
            wanted = limit if key == "minCount" else limit + 1
            if wanted <= 6:
                if wanted == 0:
                    return "false"
                names = [first, second, *(self.var() for _ in range(wanted - 2))][:wanted]
                patterns = " ".join(f"{node} {path} {n} ." for n in names)
                distinct = " && ".join(f"!sameTerm({a}, {b})" for i, a in enumerate(names)
                                       for b in names[i + 1:])
                found = f"EXISTS {{ {patterns} {f'FILTER({distinct})' if distinct else ''} }}"
                return f"NOT {found}" if key == "minCount" else found
            raise UnsupportedShape(f"{shape.node}: sh:{key} {limit} inside sh:node/sh:not/"
                                   "sh:and/sh:or/sh:xone or a qualified value shape")
        return (f"EXISTS {{ {node} {path} {first} . "
                f"FILTER({self.violation(name, params, first)}) }}")
