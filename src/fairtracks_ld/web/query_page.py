"""`/query`: a SPARQL editor for people (YASGUI, served from this package: no CDN, works offline).

The page opens one YASGUI tab per example query of `queries/*.rq`, named after the file, against
this server's `/sparql`. A parameterised query gets its parameters bound to the example its
header names (a CURIE, a facet or a quoted string) by a `VALUES` line in the innermost group
that uses them, so every tab runs as it is and shows where to change the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from flask import Blueprint, render_template, url_for

from fairtracks_ld.ontology.iris import curie_to_iri
from fairtracks_ld.queries import NamedQuery, Param, list_queries, resolve_facet

blueprint = Blueprint("query_page", __name__)

_CURIE = re.compile(r"\b([A-Za-z][A-Za-z_]*:[A-Za-z]*\d+)\b")
_QUOTED = re.compile(r"\"([^\"]+)\"")
_WORD = re.compile(r"[a-z_]+")
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


@dataclass(frozen=True)
class Example:
    """One example tab: the query's name, its description and the text to run."""

    name: str
    description: str
    query: str


def example_value(param: Param) -> str | None:
    """The SPARQL term for the example a parameter's description gives, if any."""
    if param.kind == "class":
        for curie in _CURIE.findall(param.description):
            iri = curie_to_iri(curie)
            if iri:
                return f"<{iri}>"
    elif param.kind == "facet":
        for word in _WORD.findall(param.description.split(":", 1)[-1]):
            try:
                return f"<{resolve_facet(word)}>"
            except ValueError:
                continue
    else:
        quoted = _QUOTED.search(param.description)
        if quoted:
            return '"' + quoted.group(1).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def _block_end(text: str, start: int) -> int:
    """Index just past the `}` closing the `{` at `start` (strings and IRIs are skipped)."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char in "\"'":
            end = text.find(char, i + 1)
            i = end if end > 0 else len(text)
        elif char == "<" and re.match(r"<[^\s<>\"{}|^`\\]*>", text[i:]):
            i = text.index(">", i)
        elif char == "#":
            end = text.find("\n", i)
            i = end if end > 0 else len(text)
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def bind_examples(text: str, values: dict[str, str]) -> str:
    """Insert `VALUES ?x { v }` lines into the innermost WHERE group that uses each variable."""
    wheres = list(_WHERE.finditer(text))
    if not wheres or not values:
        return text
    inserts: dict[int, list[str]] = {}
    for name, value in values.items():
        used = re.compile(rf"[?$]{re.escape(name)}\b")
        chosen = wheres[0]
        for match in reversed(wheres):
            brace = match.end() - 1
            if used.search(text, brace, _block_end(text, brace)):
                chosen = match
                break
        inserts.setdefault(chosen.end(), []).append(f"VALUES ?{name} {{ {value} }}")
    out = text
    for at in sorted(inserts, reverse=True):
        indent = "  " * max(1, text.count("{", 0, at) - text.count("}", 0, at))
        lines = "".join(f"\n{indent}{line}  # example value: change it or remove this line"
                        for line in inserts[at])
        out = out[:at] + lines + out[at:]
    return out


def example(query: NamedQuery) -> Example:
    values = {p.name: v for p in query.params if (v := example_value(p)) is not None}
    return Example(query.name, query.description, bind_examples(query.text, values))


@cache
def examples() -> tuple[Example, ...]:
    """The example queries, read once per process (they ship with the package)."""
    ordered = sorted(list_queries(), key=lambda q: (bool(q.params), q.name))
    return tuple(example(q) for q in ordered)


@blueprint.route("/query")
def query_page() -> str:
    return render_template(
        "query.html", examples=[e.__dict__ for e in examples()],
        endpoint=url_for("sparql.endpoint"),
    )
