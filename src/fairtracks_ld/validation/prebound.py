"""User-written SPARQL in shapes: the rules it must follow, and its evaluation with pre-bound
variables (SHACL 5.2.1) where joining it with the focus nodes would not mean the same.

Most SPARQL constraints bind `$this` in their first triple pattern and use no nested groups but
EXISTS / OPTIONAL: joined with the focus nodes they give the same solutions as pre-binding, in
one set-based query (the compiler's fast path). The others (`$this` in a sub-select, a UNION
branch, a BIND, `$shapesGraph` / `$currentShape`, ASK validators …) run once per focus node
(and value node) with Oxigraph's substitutions, under a time limit checked between solutions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from fairtracks_ld.sparql.policy import PolicyError, check_query
from fairtracks_ld.validation.shapes import Shape, UnsupportedShape

SHAPES_GRAPH = "urn:fairtracks-ld:validation:shapes"
PREBOUND = ("this", "shapesGraph", "currentShape", "value", "PATH")
_STRING = re.compile(r'<[^<>\s"{}|^`\\]*>|"""(?:[^"\\]|\\.|"(?!""))*"""|'
                     r"'''(?:[^'\\]|\\.|'(?!''))*'''|"
                     r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*')
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


def _STRING_OR_VARIABLE(names: str) -> re.Pattern:
    return re.compile(rf"{_STRING.pattern}|[?$]({names})\b")


class SparqlTimeout(RuntimeError):
    """User-written SPARQL of the shapes ran longer than the time limit."""


def _code(text: str) -> str:
    """The query without its string literals and comments (keywords are searched in code)."""
    return _STRING.sub(lambda m: "<>" if m.group(0).startswith("<") else '""', text)


def check_policy(text: str, allow_list: tuple[str, ...] = ()) -> None:
    """Refuse what shapes' SPARQL may not do: reach other services or load documents.

    The endpoint's own policy (`fairtracks_ld.sparql.policy`), fail-closed: any SERVICE or
    LOAD whose target is not proved to be on `allow_list` (empty unless a caller passes the
    server's) refuses the shapes.
    """
    try:
        check_query(text, allow_list)
    except PolicyError as refused:
        raise UnsupportedShape(f"SPARQL in shapes: {refused.message}") from None


def check_prebinding(text: str, where: str, parameters: tuple[str, ...] = ()) -> None:
    """SHACL 5.2.1: no MINUS, VALUES or SERVICE, no `AS` for a pre-bound variable, and every
    sub-select returns `$this`."""
    code = _code(text)
    check_policy(text)
    for keyword in ("MINUS", "VALUES"):
        if re.search(rf"\b{keyword}\b", code, re.IGNORECASE):
            raise UnsupportedShape(f"{where}: SHACL-SPARQL forbids {keyword} (pre-binding)")
    bound = "|".join((*PREBOUND, *parameters))
    assigned = re.search(rf"\bAS\s+[?$]({bound})\b", code)
    if assigned:
        raise UnsupportedShape(f"{where}: SHACL-SPARQL forbids assigning the pre-bound "
                               f"variable ${assigned.group(1)}")
    for match in list(re.finditer(r"\bSELECT\b(.*?)\bWHERE\b", code, re.IGNORECASE
                                  | re.DOTALL))[1:]:
        projection = match.group(1)
        if not re.search(r"[?$]this\b", projection):
            raise UnsupportedShape(f"{where}: a sub-select must return $this (pre-binding)")


def joinable(select: str) -> bool:
    """Whether joining the focus nodes with the query gives the pre-bound solutions: its WHERE
    group starts with a triple pattern on `$this`, which Oxigraph evaluates first and joins
    into the rest (nested groups and UNION branches then see `$this` bound, as the pySHACL
    cross-check of the shipped shapes confirms); no sub-select, GRAPH, BIND of `$this`,
    `$shapesGraph` or `$currentShape`."""
    code = _code(select)
    where = _WHERE.search(code)
    if where is None or not re.match(r"\s*\$this\s", code[where.end():]):
        return False
    body = code[where.end():]
    return not (re.search(r"\b(SELECT|GRAPH)\b|\$(shapesGraph|currentShape)\b", body,
                          re.IGNORECASE) or re.search(r"\bBIND\s*\([^)]*[?$]this\b", body))


@dataclass
class Prebound:
    """A query run once per focus node (SELECT) or per value node (ASK)."""

    text: str  # prefixes included, $PATH replaced
    ask: bool
    shape: Shape  # the shape the constraint is on (its path gives the value nodes)
    bindings: dict[str, ox.NamedNode | ox.BlankNode | ox.Literal] = field(default_factory=dict)
    values: str | None = None  # SELECT DISTINCT ?value WHERE { $this PATH ?value } (ASK)

    def __post_init__(self) -> None:
        """Oxigraph substitutes only variables a SELECT returns: the pre-bound ones the query
        mentions join its projection."""
        code = _code(self.text)
        names = {*PREBOUND, *self.bindings} - {"PATH"} - (set() if self.ask else {"value"})
        self.mentioned = {name for name in names if re.search(rf"[?$]{name}\b", code)}
        select = re.search(r"\bSELECT\s+(DISTINCT\s+|REDUCED\s+)?", self.text, re.IGNORECASE)
        if self.ask or select is None:
            return
        projection = re.match(r"[^{]*?(?=\bWHERE\b|\{)", self.text[select.end():],
                              re.IGNORECASE)
        if projection is None or "*" in projection.group(0):
            return
        missing = [name for name in sorted(self.mentioned)
                   if not re.search(rf"[?$]{name}\b", projection.group(0))]
        self.text = (self.text[:select.end()] + "".join(f"?{n} " for n in missing)
                     + self.text[select.end():])

    def bound_text(self, values: dict[str, ox.NamedNode | ox.BlankNode | ox.Literal]
                   ) -> str | None:
        """The query with the pre-bound variables replaced by their values (SHACL's
        pre-binding reaches nested groups, sub-selects and BINDs, where a join would not);
        None when a value is a blank node, which query text cannot name."""
        if any(isinstance(values.get(n), ox.BlankNode) for n in self.mentioned):
            return None
        names = "|".join(n for n in self.mentioned if n in values)
        if not names:
            return self.text
        text = re.sub(rf"\bbound\s*\(\s*[?$]({names})\s*\)", "(true)", self.text,
                      flags=re.IGNORECASE)

        def unproject(match: re.Match) -> str:
            projection = re.sub(rf"[?$]({names})\b", "", match.group(2))
            if not re.sub(r"\b(DISTINCT|REDUCED)\b", "", projection, flags=re.IGNORECASE).strip():
                projection += " * "
            return match.group(1) + projection + match.group(3)

        text = re.sub(r"(\bSELECT\b)(.*?)(\bWHERE\b|\{)", unproject, text,
                      flags=re.IGNORECASE | re.DOTALL)
        return _STRING_OR_VARIABLE(names).sub(
            lambda m: str(values[m.group(1)]) if m.group(1) else m.group(0), text)

    @property
    def reads_shapes(self) -> bool:
        return "shapesGraph" in self.mentioned


class Row(dict):
    """A solution as a dict that answers None for unbound variables (like a QuerySolution)."""

    def __getitem__(self, key: str):
        return self.get(key)


def run(store: ox.Store, prebound: Prebound, focus_select: str, options: dict,
        deadline: float) -> tuple[list[str], list[Row]]:
    """Every solution (SELECT) or failed value node (ASK) over the focus nodes."""
    options = dict(options, named_graphs=[ox.NamedNode(SHAPES_GRAPH)])
    variables: list[str] = ["this", "value", "_path"]
    rows: list[Row] = []
    for solution in store.query(focus_select, **options):
        focus = solution["this"]
        bindings = {ox.Variable(k): v for k, v in prebound.bindings.items()
                    if k in prebound.mentioned}
        if "this" in prebound.mentioned:
            bindings[ox.Variable("this")] = focus
        if prebound.ask:
            for value in _values(store, prebound, focus, options):
                if "value" in prebound.mentioned:
                    bindings[ox.Variable("value")] = value
                if not _evaluate(store, prebound, bindings, options):
                    row = Row(_named(prebound))
                    row.update(this=focus, value=value)
                    rows.append(row)
                _check(deadline)
            continue
        solutions = _evaluate(store, prebound, bindings, options)
        names = [v.value for v in solutions.variables]
        variables += [n for n in names if n not in variables]
        for found in solutions:
            _check(deadline)
            row = Row(_named(prebound))
            row.update({n: found[n] for n in names if found[n] is not None})
            row["this"] = focus
            if row.get("failure") is not None and row["failure"].value == "true":
                raise UnsupportedShape("a SPARQL constraint reported a failure (?failure)")
            _result_terms(row, prebound.shape, focus)
            rows.append(row)
        _check(deadline)
    return variables, rows


def _named(prebound: Prebound) -> dict:
    return {k: v for k, v in prebound.bindings.items() if k not in PREBOUND}


def _result_terms(row: Row, shape: Shape, focus) -> None:
    """SHACL 5.3.2: sh:value is ?value, else the focus node of a node shape; a node shape's
    result path is ?path when it is an IRI."""
    if row.get("value") is None and shape.path is None:
        row["value"] = focus
    path = row.get("path")
    if shape.path is None and isinstance(path, ox.NamedNode):
        row["_path"] = path


def _evaluate(store: ox.Store, prebound: Prebound, bindings: dict, options: dict):
    """The query with its pre-bound values written in (Oxigraph's substitutions when a value
    is a blank node)."""
    text = prebound.bound_text({k.value: v for k, v in bindings.items()})
    if text is not None:
        return store.query(text, **options)
    return store.query(prebound.text, substitutions=bindings, **options)


def _values(store: ox.Store, prebound: Prebound, focus, options: dict) -> Iterator:
    if prebound.values is None:
        yield focus
        return
    for solution in store.query(prebound.values, substitutions={
            ox.Variable("this"): focus}, **options):
        yield solution["value"]


def _check(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise SparqlTimeout("SPARQL in the shapes ran longer than the time limit")
