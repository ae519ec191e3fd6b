"""The SPARQL 1.1 Protocol's update dataset (`using-graph-uri`, `using-named-graph-uri`) applied by
rewriting the update text, since pyoxigraph's `Store.update` takes no dataset arguments.

Each DELETE/INSERT … WHERE operation gets `USING <g>` / `USING NAMED <g>` clauses before its WHERE;
`DELETE WHERE { P }` (which cannot carry USING) becomes the equivalent `DELETE { P } USING … WHERE
{ P }`. The protocol forbids the parameters on a request whose text already has USING or WITH. The
scan looks at the update's code only: strings, IRIs and comments are blanked first, so `"WITH"`,
`?where` or `ex:using` are not keywords. What the scan cannot place is left to Oxigraph's parser,
which reports any syntax error itself.
"""

from __future__ import annotations

import re

_NOT_CODE = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|<[^<>\"{}|^`\\\s]*>"
    r"|#[^\n]*",
    re.DOTALL,
)
_IRI = re.compile(r"[^<>\"{}|^`\\\x00-\x20]+")
_TOKEN = re.compile(r"[{};]|(?<![\w?$:.-])[A-Za-z]+(?![\w:-])")


class UpdateDatasetError(ValueError):
    """The request names an update dataset that the protocol does not allow (a 400)."""


def _mask(update: str) -> str:
    """The update with strings, IRIs and comments replaced by spaces (offsets unchanged)."""
    return _NOT_CODE.sub(lambda match: " " * len(match.group()), update)


def _operations(update: str) -> list[list[tuple[str, int, int]]]:
    """Each operation's top-level tokens (keyword upper-cased or punctuation, start, end)."""
    operations: list[list[tuple[str, int, int]]] = [[]]
    depth = 0
    for match in _TOKEN.finditer(_mask(update)):
        token = match.group().upper()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif token == ";" and depth == 0:
            operations.append([])
            continue
        if depth == 0 or (token == "{" and depth == 1) or (token == "}" and depth == 0):
            operations[-1].append((token, match.start(), match.end()))
    return operations


def _closing_brace(update: str, mask: str, start: int) -> int:
    """Offset just after the brace that closes the one opening at `start`."""
    depth = 0
    for index in range(start, len(mask)):
        if mask[index] == "{":
            depth += 1
        elif mask[index] == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(update)


def declares_update_dataset(update: str) -> bool:
    """Whether any operation of the update has its own USING or WITH clause."""
    return any(token in ("USING", "WITH") for op in _operations(update) for token, _, _ in op)


def with_update_dataset(update: str, using: list[str], using_named: list[str]) -> str:
    """The update with the protocol's dataset written into each operation that reads one."""
    if not using and not using_named:
        return update
    if declares_update_dataset(update):
        raise UpdateDatasetError(
            "the request has using-graph-uri/using-named-graph-uri parameters and its update "
            "has its own USING or WITH clause; the protocol allows only one of them")
    for graph in [*using, *using_named]:
        if not _IRI.fullmatch(graph) or ":" not in graph:
            raise UpdateDatasetError(f"{graph!r} is not an absolute IRI")
    clauses = " ".join([*(f"USING <{g}>" for g in using),
                        *(f"USING NAMED <{g}>" for g in using_named)])
    mask = _mask(update)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), applied right to left
    for operation in _operations(update):
        words = [token for token, _, _ in operation]
        if not words or words[0] not in ("DELETE", "INSERT"):
            continue  # LOAD, CLEAR, DROP, CREATE, ADD, MOVE, COPY (or a lone prologue)
        if len(words) > 1 and words[1] == "DATA":
            continue
        if words[0] == "DELETE" and len(words) > 2 and words[1] == "WHERE" and words[2] == "{":
            # DELETE WHERE { P }  →  DELETE { P } USING … WHERE { P }
            where, brace = operation[1][1], operation[2][1]
            pattern = update[brace:_closing_brace(update, mask, brace)]
            edits.append((where, brace + len(pattern), f"{pattern} {clauses} WHERE {pattern}"))
            continue
        for token, start, _ in operation:
            if token == "WHERE":
                edits.append((start, start, f"{clauses} "))
                break
    for start, end, replacement in sorted(edits, reverse=True):
        update = update[:start] + replacement + update[end:]
    return update
