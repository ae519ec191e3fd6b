"""SERVICE and LOAD may only reach endpoints on an allow-list; anything unproven is refused.

A query or update that mentions `service` or `load` anywhere (any case, codepoint escapes
replaced or not) runs only if its tokens prove every SERVICE and LOAD target to be an allowed
endpoint: `SERVICE [SILENT] <iri>|prefixed:name` and `LOAD [SILENT] <iri>|prefixed:name`.
A variable target, a token that cannot be read, or a spelling Oxigraph might read differently
(`trueSERVICE`, `SERVICEex:a`, a `<` that could be either an IRI or less-than) is refused:
the check fails closed, never open. The text is read twice, with codepoint escapes replaced
first (SPARQL 1.1 §19.2) and inside IRIs and strings only (Oxigraph), and both readings must pass.

Targets match an allow-list entry exactly after normalisation (scheme and host lower-case, default
port dropped, percent-encoding normalised, empty path as `/`); userinfo, dot segments (`.`, `..`,
also percent-encoded or with `;` parameters), other schemes and characters outside IRIs are refused.

No Flask here: the web endpoint and the SHACL engine (user SPARQL in shapes) share this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import SplitResult, urlsplit

from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.sparql.tokens import (
    BNODE,
    IRI,
    LANGTAG,
    NUMBER,
    PNAME,
    STRING,
    VAR,
    WORD,
    LexError,
    Token,
    tokenize,
    unescape,
)

NETWORK_KEYWORDS = ("service", "load")
_DECLARATIONS = ("prefix", "base", "silent")  # keywords Oxigraph would split off a longer name
_OPERANDS = {VAR, IRI, PNAME, STRING, NUMBER, WORD, LANGTAG, BNODE}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = re.compile(r"%([0-9A-Fa-f]{2})")
_NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|\\^`\x7f]')


class PolicyError(ValueError):
    """The request would reach, or might reach, an endpoint that is not allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_query(text: str, allow_list: Iterable[str], *, base: str | None = None,
                prefixes: Mapping[str, str] | None = None) -> None:
    """Raise PolicyError unless every SERVICE (and LOAD) in a query is allowed.

    `base` and `prefixes` must be what Oxigraph is given with the same text (`base_iri=`,
    `prefixes=`); prefixes None means the server's (`fairtracks_ld.mapping.namespaces.PREFIXES`)."""
    _check(text, allow_list, base, prefixes)


def check_update(text: str, allow_list: Iterable[str], *, base: str | None = None,
                 prefixes: Mapping[str, str] | None = None) -> None:
    """Raise PolicyError unless every LOAD and SERVICE in a SPARQL Update is allowed."""
    _check(text, allow_list, base, prefixes)


def mentions_network(text: str) -> bool:
    """Whether `service` or `load` occurs anywhere in the text, escapes replaced or not."""
    folded = (text.casefold(), unescape(text).casefold())
    return any(word in version for word in NETWORK_KEYWORDS for version in folded)


def normalise_endpoint(iri: str) -> str:
    """The comparable form of an http(s) endpoint IRI; ValueError saying why it cannot be one."""
    if _NOT_IN_IRI.search(iri):
        raise ValueError("it contains a character IRIs cannot hold")
    try:
        parts = urlsplit(iri)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"it is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("only http and https endpoints can be allowed")
    if "@" in parts.netloc:
        raise ValueError("it carries user information (user@host)")
    host = (parts.hostname or "").lower()
    if not host or "%" in host:
        raise ValueError("it names no plain host")
    path = _normalise_percent(parts.path) or "/"
    for segment in path.split("/"):
        if segment.split(";", 1)[0] in (".", ".."):
            raise ValueError("its path has a dot segment ('.' or '..')")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    query = _normalise_percent(parts.query)
    fragment = _normalise_percent(parts.fragment)
    return SplitResult(scheme, netloc, path, query, fragment).geturl()


def allowed_endpoints(allow_list: Iterable[str]) -> frozenset[str]:
    """The normalised allow-list; ValueError naming an entry that can never be allowed."""
    allowed = set()
    for entry in allow_list:
        try:
            allowed.add(normalise_endpoint(entry))
        except ValueError as error:
            raise ValueError(f"allow-list entry {entry!r} is not usable: {error}") from None
    return frozenset(allowed)


def _normalise_percent(text: str) -> str:
    """Decode percent-encoded unreserved characters, upper-case the hex digits of the rest."""
    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char.isascii() and (char.isalnum() or char in "-._~") else \
            "%" + match.group(1).upper()

    return _UNRESERVED.sub(one, text)


def _check(text: str, allow_list: Iterable[str], base: str | None,
           prefixes: Mapping[str, str] | None) -> None:
    if not mentions_network(text):
        return
    if prefixes is None:
        prefixes = PREFIXES
    allowed = allowed_endpoints(allow_list)
    for escapes in ("first", "in_tokens"):
        try:
            tokens = tokenize(text, base=base, prefixes=prefixes, escapes=escapes)
        except LexError as error:
            raise PolicyError(f"the request mentions SERVICE or LOAD but cannot be read to prove "
                              f"its targets allowed ({error}); refused") from None
        for keyword, target in _targets(tokens):
            _check_target(keyword, target, allowed)


def _check_target(keyword: str, target: Token, allowed: frozenset[str]) -> None:
    shown = f"{keyword.upper()} {target.text}"
    if target.iri is None:
        raise PolicyError(f"{shown} does not resolve to an absolute IRI; refused")
    try:
        normalised = normalise_endpoint(target.iri)
    except ValueError as error:
        raise PolicyError(f"{shown} (<{target.iri}>) is not allowed: {error}") from None
    if normalised not in allowed:
        raise PolicyError(
            f"{shown} (<{target.iri}>) is not allowed; this server only federates with: "
            + (", ".join(sorted(allowed)) or "no endpoints (the allow-list is empty)"))


def _targets(tokens: list[Token]) -> Iterator[tuple[str, Token]]:
    """Every (keyword, target token) of SERVICE and LOAD; PolicyError for anything unproven."""
    depth = 0
    for index, token in enumerate(tokens):
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif token.kind == IRI:
            _refuse_ambiguous_iri(token, tokens[index - 1] if index else None, depth)
        if token.kind not in (WORD, PNAME, LANGTAG):
            continue
        word = token.keyword
        if word in NETWORK_KEYWORDS:
            yield word, _target_after(word, tokens, index)
            continue
        name = word.split(":", 1)[0] if token.kind == PNAME else word
        if any(keyword in name for keyword in NETWORK_KEYWORDS) or (
                name.startswith(_DECLARATIONS) and name not in _DECLARATIONS):
            raise PolicyError(f"{token.text!r} may be read as a keyword followed by a name; "
                              "separate keywords with a space")
        if token.kind == PNAME and token.iri is None and any(
                keyword in word for keyword in NETWORK_KEYWORDS):
            raise PolicyError(f"{token.text!r} uses an undeclared prefix; refused")


def _target_after(keyword: str, tokens: list[Token], index: int) -> Token:
    following = tokens[index + 1: index + 3]
    if following and following[0].kind in (WORD, PNAME) and \
            following[0].keyword.startswith("silent"):
        if following[0].keyword != "silent":
            raise PolicyError(f"{following[0].text!r} after {keyword.upper()}: write SILENT "
                              "and the target apart")
        following = following[1:]
    if not following:
        raise PolicyError(f"{keyword.upper()} without a target; refused")
    target = following[0]
    if target.kind == VAR:
        raise PolicyError(f"{keyword.upper()} {target.text}: a variable target could name any "
                          "host; name an allowed endpoint instead")
    if target.kind not in (IRI, PNAME):
        raise PolicyError(f"{keyword.upper()} followed by {target.text!r}; expected an IRI")
    return target


def _refuse_ambiguous_iri(token: Token, before: Token | None, depth: int) -> None:
    """Inside an expression, `?a<?b)...#>` may be less-than followed by code and a comment: an
    IRI that can hide a comment or a string start after an operand is not read as one."""
    if depth > 0 and before is not None and (before.kind in _OPERANDS or before.text in ")]") \
            and ("#" in token.text or "'" in token.text):
        raise PolicyError(f"{token.text} after {before.text} could be read as an IRI or as "
                          "'<' (less than); put a space after '<' in comparisons")
