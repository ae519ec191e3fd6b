"""Engine extensions refused before a query is forwarded to an external store (see
docs/backends.md): only standard SPARQL 1.1 (and RDF 1.2 query words) reaches the backend.

Virtuoso reads more than SPARQL: `DEFINE` pragmas before a query (`DEFINE get:soft "replace"`
makes its Sponger fetch arbitrary URLs from the server's network, `DEFINE input:inference` or
`sql:` pragmas change how it runs), `OPTION (...)` clauses with Sponger options (`get:soft`,
`get:uri`, `get:method`), and functions that reach its SQL engine (`bif:…`, `sql:…`, as prefixed
names or as IRIs `<bif:…>`). The check reads the query's tokens (sparql.tokens: strings,
comments and IRIs are never mistaken for keywords), twice: with codepoint escapes replaced first
(SPARQL 1.1 §19.2) and only inside IRIs and strings, and both readings must pass. It refuses

- any bare word that is not a SPARQL keyword or built-in function name (DEFINE, OPTION,
  TRANSITIVE, …): an allow-list, so engine syntax nobody listed is refused too;
- prefixed names with an engine prefix (`bif:`, `sql:`, `get:`, `input:`, `output:`,
  `define:`…), whatever the query's PREFIX declarations say;
- IRIs (written or resolved from a prefixed name) in the engine's function schemes;
- text that cannot be read as SPARQL tokens.
"""

from __future__ import annotations

from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.sparql.tokens import IRI, PNAME, WORD, LexError, tokenize

_KEYWORD_LIST = """  # SPARQL 1.1 keywords and built-in calls, RDF 1.2 query words
base prefix select construct describe ask distinct reduced as from named where order by asc desc
limit offset values graph optional union minus filter service silent bind undef group having
not in exists a true false load clear drop create add move copy to into with delete insert data
using default all
count sum min max avg sample group_concat separator
str lang langmatches datatype bound iri uri bnode rand abs ceil floor round concat strlen ucase
lcase encode_for_uri contains strstarts strends strbefore strafter year month day hours minutes
seconds timezone tz now uuid struuid md5 sha1 sha256 sha384 sha512 coalesce if strlang strdt
sameterm isiri isuri isblank isliteral isnumeric regex substr replace
version triple istriple subject predicate object langdir haslang haslangdir strlangdir
"""
KEYWORDS = frozenset(_KEYWORD_LIST.split())
ENGINE_PREFIXES = frozenset({"bif", "sql", "get", "input", "output", "define", "virtrdf",
                             "virtcxml", "rdfdf"})
ENGINE_IRIS = ("bif:", "sql:", "get:", "input:", "output:", "define:",
               "http://www.openlinksw.com/schemas/bif#", "http://www.openlinksw.com/schemas/sql#",
               "http://www.openlinksw.com/schemas/virtrdf#")


class ExtensionError(ValueError):
    """The query uses (or may use) an engine extension; the message names the construct."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_standard(text: str, base: str | None = None) -> None:
    """Raise ExtensionError unless the query is plain SPARQL in both readings of its escapes."""
    for escapes in ("first", "in_tokens"):
        try:
            tokens = tokenize(text, base=base, prefixes=PREFIXES, escapes=escapes)
        except LexError as error:
            raise ExtensionError(f"the query cannot be read as SPARQL tokens ({error}); "
                                 "refused before reaching the backend") from None
        for token in tokens:
            _check_token(token)


def _check_token(token) -> None:
    if token.kind == WORD and token.keyword not in KEYWORDS:
        name = token.text.upper() if token.keyword in ("define", "option") else token.text
        raise ExtensionError(f"{name} is not SPARQL 1.1 (an engine extension such as "
                             "Virtuoso's DEFINE pragmas or OPTION clauses); this endpoint "
                             "forwards standard SPARQL only")
    if token.kind == PNAME:
        prefix = token.text.split(":", 1)[0].casefold()
        if prefix in ENGINE_PREFIXES:
            raise ExtensionError(f"{token.text}: the {prefix}: prefix names engine functions "
                                 "or options (Virtuoso's SQL functions, Sponger options), "
                                 "which this endpoint does not forward")
    if token.kind in (IRI, PNAME) and token.iri is not None and \
            token.iri.casefold().startswith(ENGINE_IRIS):
        raise ExtensionError(f"{token.text} (<{token.iri}>) names an engine function or "
                             "option, which this endpoint does not forward")
