"""Small helpers to write Turtle and SPARQL text safely (escaping, terms, prefixed names)."""

from __future__ import annotations

import re

from fairtracks_ld.validation.vocab import PREFIXES

_LOCAL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*(?<!\.)$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def string(text: str) -> str:
    """A double-quoted Turtle/SPARQL string literal."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in text) + '"'


def long_string(text: str) -> str:
    """A triple-quoted literal for multi-line SPARQL (backslashes and quotes escaped)."""
    return '"""' + text.replace("\\", "\\\\").replace('"', '\\"') + '"""'


def iri(value: str) -> str:
    """A prefixed name when one reads well, else `<…>`."""
    for prefix, namespace in PREFIXES.items():
        if value.startswith(namespace) and _LOCAL.match(value[len(namespace):]):
            return f"{prefix}:{value[len(namespace):]}"
    return f"<{value}>"


def typed(text: str, datatype: str | None) -> str:
    """A literal, typed unless `datatype` is None (a plain xsd:string)."""
    return string(text) if datatype is None else f"{string(text)}^^{iri(datatype)}"


def boolean(value: bool) -> str:
    return "true" if value else "false"
