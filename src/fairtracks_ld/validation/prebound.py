"""User-written SPARQL in shapes: the rules it must follow, and its evaluation with pre-bound
variables (SHACL 5.2.1) where joining it with the focus nodes would not mean the same.

Most SPARQL constraints bind `$this` in their first triple pattern and use no nested groups but
EXISTS / OPTIONAL: joined with the focus nodes they give the same solutions as pre-binding, in
one set-based query (the compiler's fast path). The others (`$this` in a sub-select, a UNION
branch, a BIND, `$shapesGraph` / `$currentShape`, ASK validators …) run once per focus node
(and value node) with Oxigraph's substitutions, under a time limit checked between solutions.

The query text is read with the project's SPARQL lexer (`fairtracks_ld.sparql.tokens`, shared
with the endpoint's SERVICE/LOAD policy): keywords and variables inside strings, IRIs and
comments are never taken for code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from fairtracks_ld.sparql.policy import PolicyError, check_query
from fairtracks_ld.sparql.tokens import Token
from fairtracks_ld.validation.select_text import is_token, shape_tokens, variable_name
from fairtracks_ld.validation.shapes import Shape, UnsupportedShape

SHAPES_GRAPH = "urn:fairtracks-ld:validation:shapes"
PREBOUND = ("this", "shapesGraph", "currentShape", "value", "PATH")


class SparqlTimeout(RuntimeError):
    """User-written SPARQL of the shapes ran longer than the time limit."""


def _projections(tokens: list[Token]) -> Iterator[tuple[int, int, int]]:
    """Every SELECT: (index of SELECT, first index of its projection after DISTINCT/REDUCED,
    index of the WHERE or `{` that ends the projection)."""
    for index, token in enumerate(tokens):
        if not is_token(token, "select"):
            continue
        begin = index + 1
        if begin < len(tokens) and is_token(tokens[begin], "distinct", "reduced"):
            begin += 1
        end = begin
        while end < len(tokens) and not is_token(tokens[end], "where", "{"):
            end += 1
        yield index, begin, end


def _where(tokens: list[Token]) -> int | None:
    """Index of the token after the first `WHERE {` (None when there is none)."""
    for index, token in enumerate(tokens[:-1]):
        if is_token(token, "where") and is_token(tokens[index + 1], "{"):
            return index + 2
    return None


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
    check_policy(text)
    tokens = shape_tokens(text, where)
    bound = {*PREBOUND, *parameters}
    for index, token in enumerate(tokens):
        if is_token(token, "minus", "values"):
            raise UnsupportedShape(f"{where}: SHACL-SPARQL forbids {token.text.upper()} "
                                   "(pre-binding)")
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if is_token(token, "as") and after is not None and variable_name(after) in bound:
            raise UnsupportedShape(f"{where}: SHACL-SPARQL forbids assigning the pre-bound "
                                   f"variable ${variable_name(after)}")
    for _, begin, end in list(_projections(tokens))[1:]:
        if not any(variable_name(t) == "this" for t in tokens[begin:end]):
            raise UnsupportedShape(f"{where}: a sub-select must return $this (pre-binding)")


def joinable(select: str) -> bool:
    """Whether joining the focus nodes with the query gives the pre-bound solutions: its WHERE
    group starts with a triple pattern on `$this`, which Oxigraph evaluates first and joins
    into the rest (nested groups and UNION branches then see `$this` bound, as the pySHACL
    cross-check of the shipped shapes confirms); no sub-select, GRAPH, BIND of `$this`,
    `$shapesGraph` or `$currentShape`."""
    tokens = shape_tokens(select)
    start = _where(tokens)
    if start is None or start >= len(tokens) or variable_name(tokens[start]) != "this":
        return False
    body = tokens[start:]
    for index, token in enumerate(body):
        if is_token(token, "select", "graph") \
                or variable_name(token) in ("shapesGraph", "currentShape"):
            return False
        if is_token(token, "bind") \
                and any(variable_name(t) == "this" for t in _parenthesised(body, index + 1)):
            return False
    return True


def _parenthesised(tokens: list[Token], index: int) -> list[Token]:
    """The tokens inside the balanced parentheses opening at `index` (none if no `(` there)."""
    if index >= len(tokens) or not is_token(tokens[index], "("):
        return []
    depth = 0
    for end in range(index, len(tokens)):
        depth += is_token(tokens[end], "(") - is_token(tokens[end], ")")
        if depth == 0:
            return tokens[index + 1:end]
    return tokens[index + 1:]


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
        tokens = shape_tokens(self.text)
        names = {*PREBOUND, *self.bindings} - {"PATH"} - (set() if self.ask else {"value"})
        self.mentioned = {variable_name(t) for t in tokens} & names
        self._templates: dict[frozenset[str], list[str]] = {}
        outer = next(_projections(tokens), None)
        if self.ask or outer is None:
            return
        _, begin, end = outer
        projection = tokens[begin:end]
        if any(is_token(t, "*") for t in projection):
            return
        missing = sorted(self.mentioned - {variable_name(t) for t in projection})
        at = tokens[begin].start if begin < len(tokens) else len(self.text)
        self.text = self.text[:at] + "".join(f"?{n} " for n in missing) + self.text[at:]

    def bound_text(self, values: dict[str, ox.NamedNode | ox.BlankNode | ox.Literal]
                   ) -> str | None:
        """The query with the pre-bound variables replaced by their values (SHACL's
        pre-binding reaches nested groups, sub-selects and BINDs, where a join would not);
        None when a value is a blank node, which query text cannot name."""
        if any(isinstance(values.get(n), ox.BlankNode) for n in self.mentioned):
            return None
        names = frozenset(n for n in self.mentioned if n in values)
        if not names:
            return self.text
        if names not in self._templates:
            self._templates[names] = self._template(names)
        pieces = self._templates[names]  # text, name, text, name, …, text
        return "".join(piece if index % 2 == 0 else str(values[piece])
                       for index, piece in enumerate(pieces))

    def _template(self, names: frozenset[str]) -> list[str]:
        """The text cut where the values of `names` go (text and names alternating):
        `bound(?name)` becomes `(true)`, the variables leave the projections (`*` when nothing
        is left) and are replaced everywhere else. Made once per set of names: the query
        runs per focus node."""
        tokens = shape_tokens(self.text)
        edits: list[tuple[int, int, str | None]] = []  # (start, end, text) or a value (None)
        dropped: set[int] = set()
        for _, begin, end in _projections(tokens):
            mentioned = {i for i in range(begin, end) if variable_name(tokens[i]) in names}
            dropped |= mentioned
            if mentioned and len(mentioned) == end - begin:
                edits.append((tokens[begin].start, tokens[begin].start, " * "))
        index = 0
        while index < len(tokens):
            token = tokens[index]
            after = token.start + len(token.text)
            if index in dropped:
                edits.append((token.start, after, ""))
            elif is_token(token, "bound") and index + 3 < len(tokens) \
                    and is_token(tokens[index + 1], "(") \
                    and variable_name(tokens[index + 2]) in names \
                    and is_token(tokens[index + 3], ")"):
                edits.append((token.start, tokens[index + 3].start + 1, "(true)"))
                index += 3
            elif variable_name(token) in names:
                edits.append((token.start, after, None))
            index += 1
        edits.sort(key=lambda edit: edit[0])  # stable: a `*` goes before what it replaces
        pieces, text, position = [], "", 0
        for start, end, replacement in edits:
            text += self.text[position:start]
            if replacement is None:
                pieces += [text, self.text[start + 1:end]]
                text = ""
            else:
                text += replacement
            position = end
        return [*pieces, text + self.text[position:]]

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
