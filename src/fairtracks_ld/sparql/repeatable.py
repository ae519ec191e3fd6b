"""Whether a query's answer is the same every time it runs on the same data (so a snapshot's
answer may be cached): no NOW(), RAND(), UUID(), STRUUID() or BNODE() call and no SERVICE.

Read from the query's tokens (sparql.tokens), in both readings of codepoint escapes; a query that
cannot be read is not repeatable (it is never cached). The common case, a query that spells none
of those words anywhere, is answered without reading tokens.
"""

from __future__ import annotations

from fairtracks_ld.sparql.tokens import WORD, LexError, tokenize, unescape

CHANGING = frozenset({"now", "rand", "uuid", "struuid", "bnode", "service"})
_SPELLED = ("now", "rand", "uuid", "bnode", "service")  # struuid contains uuid


def repeatable(query: str) -> bool:
    """True when running the query again on the same snapshot gives the same answer."""
    readings = {query.casefold(), unescape(query).casefold()}
    if not any(word in reading for word in _SPELLED for reading in readings):
        return True
    for escapes in ("first", "in_tokens"):
        try:
            tokens = tokenize(query, escapes=escapes)
        except LexError:
            return False
        if any(token.kind == WORD and token.keyword in CHANGING for token in tokens):
            return False
    return True
