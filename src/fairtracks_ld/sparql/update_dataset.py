"""The SPARQL 1.1 Protocol's update dataset (`using-graph-uri`, `using-named-graph-uri`) applied by
rewriting the update text, since pyoxigraph's `Store.update` takes no dataset arguments.

Each DELETE/INSERT … WHERE operation gets `USING <g>` / `USING NAMED <g>` clauses before its WHERE;
`DELETE WHERE { P }` (which cannot carry USING) becomes the equivalent `DELETE { P } USING … WHERE
{ P }`. The protocol forbids the parameters on a request whose text already has USING or WITH. The
scan reads the update with the package's SPARQL lexer (`sparql.tokens`), so `"WITH"`, `?where`
or `ex:using` are not keywords. What the scan cannot place is left to Oxigraph's parser,
which reports any syntax error itself.
"""

from __future__ import annotations

import re

from fairtracks_ld.sparql.tokens import PUNCT, WORD, LexError, tokenize

_IRI = re.compile(r"[^<>\"{}|^`\\\x00-\x20]+")

Scanned = tuple[str, int, int]  # a keyword upper-cased or a brace/semicolon, its start and end


class UpdateDatasetError(ValueError):
    """The request names an update dataset that the protocol does not allow (a 400)."""


def _code_tokens(update: str) -> list[Scanned]:
    """The update's keywords and braces/semicolons (strings, IRIs and comments are other tokens
    of the lexer); none when the text does not lex, which Oxigraph's parser then reports."""
    try:
        tokens = tokenize(update)
    except LexError:
        return []
    return [(t.text.upper(), t.start, t.start + len(t.text)) for t in tokens
            if t.kind == WORD or (t.kind == PUNCT and t.text in "{};")]


def _operations(scanned: list[Scanned]) -> list[list[Scanned]]:
    """Each operation's top-level tokens, and the braces that open and close its groups."""
    operations: list[list[Scanned]] = [[]]
    depth = 0
    for token in scanned:
        text = token[0]
        if text == "{":
            depth += 1
        elif text == "}":
            depth -= 1
        elif text == ";" and depth == 0:
            operations.append([])
            continue
        if depth == 0 or (text == "{" and depth == 1) or (text == "}" and depth == 0):
            operations[-1].append(token)
    return operations


def _closing_brace(scanned: list[Scanned], start: int, end_of_text: int) -> int:
    """Offset just after the brace that closes the one opening at `start`."""
    depth = 0
    for text, at, after in scanned:
        if at < start or text not in "{}":
            continue
        depth += 1 if text == "{" else -1
        if depth == 0:
            return after
    return end_of_text


def declares_update_dataset(update: str) -> bool:
    """Whether any operation of the update has its own USING or WITH clause."""
    return any(token in ("USING", "WITH")
               for op in _operations(_code_tokens(update)) for token, _, _ in op)


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
    scanned = _code_tokens(update)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), applied right to left
    for operation in _operations(scanned):
        words = [token for token, _, _ in operation]
        if not words or words[0] not in ("DELETE", "INSERT"):
            continue  # LOAD, CLEAR, DROP, CREATE, ADD, MOVE, COPY (or a lone prologue)
        if len(words) > 1 and words[1] == "DATA":
            continue
        if words[0] == "DELETE" and len(words) > 2 and words[1] == "WHERE" and words[2] == "{":
            # DELETE WHERE { P }  →  DELETE { P } USING … WHERE { P }
            where, brace = operation[1][1], operation[2][1]
            pattern = update[brace:_closing_brace(scanned, brace, len(update))]
            edits.append((where, brace + len(pattern), f"{pattern} {clauses} WHERE {pattern}"))
            continue
        for token, start, _ in operation:
            if token == "WHERE":
                edits.append((start, start, f"{clauses} "))
                break
    for start, end, replacement in sorted(edits, reverse=True):
        update = update[:start] + replacement + update[end:]
    return update
