"""A SPARQL 1.1 lexer: a query's tokens, IRIs and prefixed names resolved as its prologue says.

pyoxigraph exposes no query algebra, so whatever must be known about a query before it runs (does
it reach the network with SERVICE or LOAD, does it declare a dataset) is read from its tokens. One
scanner serves all of those questions, so they agree on what is a keyword and what sits inside a
string, an IRI or a comment.

Codepoint escapes (`\\u0041`, `\\U00000041`) can be read two ways, and a caller that must not be
fooled reads both: `escapes="first"` replaces them in the whole text before lexing, as SPARQL 1.1
§19.2 says; `escapes="in_tokens"` replaces them only inside IRIs and strings, as Oxigraph does (it
reads `"\\u0022"` as a one-quote string and `\\u0053ERVICE` as a syntax error).

BASE and PREFIX declarations are followed in order: an IRI reference or a prefixed name resolves
against the declarations before it, on top of the caller's `base` and default `prefixes` (the
server's, which pyoxigraph applies as if declared first). Relative references resolve as RFC 3986
§5.2 says; absolute IRIs are kept exactly as written (dot segments and case included), as Oxigraph
keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Literal, NamedTuple

IRI = "iri"
PNAME = "pname"
VAR = "var"
BNODE = "bnode"
STRING = "string"
NUMBER = "number"
LANGTAG = "langtag"
WORD = "word"  # keywords, built-in function names, `a`, `true`, `false`
PUNCT = "punct"

Escapes = Literal["first", "in_tokens"]

_HEX = "[0-9A-Fa-f]"
_CODEPOINT = re.compile(rf"\\u({_HEX}{{4}})|\\U({_HEX}{{8}})")
_PN_CHARS_BASE = ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
                  "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf"
                  "\ufdf0-\ufffd\U00010000-\U000effff")
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = rf"%{_HEX}{_HEX}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = rf"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = (rf"(?:[{_PN_CHARS_U}:0-9]|{_PLX})"
             rf"(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?")
_VARNAME = rf"[{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"
_IRI_CHAR = r'[^<>"{}|^`\\\x00-\x20]'
_EXPONENT = r"[eE][+-]?[0-9]+"
_TOKEN = re.compile(  # spaces before a token are skipped inside the match: fewer matches
    r"[ \t\r\n]*+(?:"
    r"(?P<comment>#[^\r\n]*)"  # Oxigraph ends a comment at CR as well as LF
    r"|(?P<string>'''(?:(?:'|'')?(?:[^'\\]|\\.))*'''"
    r'|"""(?:(?:"|"")?(?:[^"\\]|\\.))*"""'
    r"|'(?:[^'\\\n\r]|\\.)*'"
    r'|"(?:[^"\\\n\r]|\\.)*")'
    rf"|(?P<iri><(?:{_IRI_CHAR}++|\\u{_HEX}{{4}}|\\U{_HEX}{{8}})*+>)"
    rf"|(?P<bnode>_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?)"
    rf"|(?P<pname>(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?)"
    rf"|(?P<var>[?$]{_VARNAME})"
    rf"|(?P<number>[0-9]+\.[0-9]*{_EXPONENT}|\.[0-9]+{_EXPONENT}|[0-9]+{_EXPONENT}"
    r"|[0-9]*\.[0-9]+|[0-9]+)"
    r"|(?P<langtag>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)"
    r"|(?P<word>[^\W\d]\w*)"
    r"|(?P<punct>\^\^|&&|\|\||<=|>=|!=|[{}()\[\].,;*/+\-=!<>|^?$~])"  # `~`: RDF 1.2
    r"|(?P<error>[^ \t\r\n])"
    r"|(?P<end>\Z))",
    re.DOTALL,
)
_LOCAL_ESCAPE = re.compile(r"\\(.)")


class LexError(ValueError):
    """The text is not a sequence of SPARQL tokens (or names an undeclared prefix in a prologue)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at character {position}")
        self.position = position


class Token(NamedTuple):
    """One token: its kind, its text as read, where it starts, and for IRIs and prefixed names
    the absolute IRI it names (None when it cannot be resolved: undeclared prefix, no base)."""

    kind: str
    text: str
    start: int
    iri: str | None = None

    @property
    def keyword(self) -> str:
        """The text case-folded, for comparing keywords (`Select`, `SELECT`, and the long s)."""
        return self.text.casefold()


def unescape(text: str) -> str:
    """Replace `\\uXXXX` and `\\UXXXXXXXX` codepoint escapes (SPARQL 1.1 §19.2)."""
    if "\\u" not in text and "\\U" not in text:
        return text

    def codepoint(match: re.Match[str]) -> str:
        value = int(match.group(1) or match.group(2), 16)
        return chr(value) if value <= 0x10FFFF else match.group()

    return _CODEPOINT.sub(codepoint, text)


def tokenize(text: str, *, base: str | None = None, prefixes: Mapping[str, str] | None = None,
             escapes: Escapes = "in_tokens") -> list[Token]:
    """The tokens of a query or update, without spaces and comments; raises LexError."""
    source = unescape(text) if escapes == "first" else text
    return _resolve(list(scan(source)), base, dict(prefixes or {}))


def scan(text: str) -> Iterator[Token]:
    """The tokens of `text` as written (no escapes replaced, no IRI resolved), read as they are
    asked for: a caller that stops at the first token it does not expect reads no further.
    Raises LexError when it reaches text that is not a token."""
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() != position:  # every character belongs to some match: none skipped
            raise LexError("unreadable text", position)
        position = match.end()
        kind = match.lastgroup
        if kind in ("comment", "end"):
            continue
        if kind == "error":
            raise LexError(f"unexpected character {match.group(kind)!r}", match.start(kind))
        yield Token(kind, match.group(kind), match.start(kind))


def _resolve(tokens: list[Token], base: str | None, prefixes: dict[str, str]) -> list[Token]:
    """Give IRIs and prefixed names their absolute IRIs, following BASE and PREFIX in order."""
    resolved: list[Token] = []
    for index, token in enumerate(tokens):
        if token.kind == IRI:
            token = Token(IRI, token.text, token.start, _absolute(iri_text(token), base))
            before = tokens[index - 1] if index else None
            if before is not None and before.kind == WORD and before.keyword == "base":
                if token.iri is None:
                    raise LexError("BASE needs an absolute IRI", token.start)
                base = token.iri
            elif (index >= 2 and tokens[index - 2].kind == WORD
                  and tokens[index - 2].keyword == "prefix" and before.kind == PNAME
                  and before.text.endswith(":")):
                if token.iri is None:
                    raise LexError("PREFIX needs an IRI that resolves", token.start)
                prefixes[before.text[:-1]] = token.iri
        elif token.kind == PNAME:
            prefix, local = token.text.split(":", 1)
            namespace = prefixes.get(prefix)
            iri = None if namespace is None else namespace + _LOCAL_ESCAPE.sub(r"\1", local)
            token = Token(PNAME, token.text, token.start, iri)
        resolved.append(token)
    return resolved


def iri_text(token: Token) -> str:
    """An IRIREF's text between `<` and `>`, codepoint escapes replaced."""
    return unescape(token.text[1:-1])


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_REFERENCE = re.compile(r"(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?"
                        r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?",
                        re.DOTALL)


def _absolute(reference: str, base: str | None) -> str | None:
    """The IRI a reference names: itself if absolute, else resolved against `base` (None if
    there is none)."""
    if _SCHEME.match(reference):
        return reference
    if base is None:
        return None
    return resolve_reference(reference, base)


def resolve_reference(reference: str, base: str) -> str:
    """A relative reference resolved against an absolute base as Oxigraph (oxiri) does it:
    RFC 3986 §5.2, except that dot segments already in the base and in a network-path
    reference (`//host/a/../b`) are kept as written; the reference's own `.` and `..` segments
    are applied to the base's path segments one by one."""
    ref = _REFERENCE.fullmatch(reference)
    bas = _REFERENCE.fullmatch(base)
    assert ref is not None and bas is not None  # the pattern matches any string
    authority, path, query = bas["authority"], bas["path"], ref["query"]
    if ref["authority"] is not None:
        authority, path = ref["authority"], ref["path"]
    elif ref["path"].startswith("/"):
        path = remove_dot_segments(ref["path"])
    elif ref["path"]:
        directory = bas["path"].rpartition("/")[0] + "/" if "/" in bas["path"] else ""
        if authority is not None and not bas["path"]:
            directory = "/"
        path = _apply_segments(directory, ref["path"])
    elif query is None:
        query = bas["query"]
    result = f"{bas['scheme']}:"
    if authority is not None:
        result += f"//{authority}"
    result += path
    if query is not None:
        result += f"?{query}"
    if ref["fragment"] is not None:
        result += f"#{ref['fragment']}"
    return result


def _apply_segments(directory: str, relative: str) -> str:
    """`directory` (ending in `/`, or empty) followed by a relative path, whose `.` and `..`
    segments step within the directory's segments taken as they are."""
    rooted = directory.startswith("/")
    stack = [part for part in directory.strip("/").split("/") if part] if directory else []
    parts = relative.split("/")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "..":
            if stack:
                stack.pop()
            if last:
                stack.append("")
        elif part == ".":
            if last:
                stack.append("")
        else:
            stack.append(part)
    return ("/" if rooted else "") + "/".join(stack)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4."""
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./") or path.startswith("/./"):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../"):
            path = path[3:]
            if output:
                output.pop()
        elif path == "/..":
            path = "/"
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            start = 1 if path.startswith("/") else 0
            end = path.find("/", start)
            end = len(path) if end == -1 else end
            output.append(path[:end])
            path = path[end:]
    return "".join(output)
