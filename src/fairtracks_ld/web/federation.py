"""SERVICE clauses may only reach endpoints on the configured allow-list.

The query is parsed (rdflib's SPARQL 1.1 parser, prefixes resolved) and every SERVICE target is
checked before the store sees the query, so the server cannot be used to reach arbitrary hosts.
A variable SERVICE target is refused: it could name any host at run time.
"""

from __future__ import annotations

from pyparsing import ParseException, ParseResults
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import URIRef

from fairtracks_ld.web.executor import QueryError


def service_targets(query: str) -> list[object]:
    """Every SERVICE target of a query (IRIs as str, anything else as is)."""
    if "service" not in query.lower():
        return []
    try:
        algebra = translateQuery(parseQuery(query)).algebra
    except ParseException:
        return []  # Oxigraph reports syntax errors with its own, better message
    except Exception:  # rdflib cannot translate some valid queries; be strict about SERVICE
        return ["(unparsed SERVICE target)"]
    found: list[object] = []

    def walk(node: object) -> None:
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                term = node.get("term")
                found.append(str(term) if isinstance(term, URIRef) else term)
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple | ParseResults):
            for value in node:
                walk(value)

    walk(algebra)
    return found


def check_services(query: str, allow_list: tuple[str, ...]) -> None:
    """Raise a 403 QueryError if the query reaches outside the allow-list."""
    for target in service_targets(query):
        if not isinstance(target, str) or not any(
            target == allowed or target.startswith(allowed.rstrip("/") + "/")
            for allowed in allow_list
        ):
            raise QueryError(
                403, f"SERVICE {target} is not allowed; this server only federates with: "
                     + (", ".join(allow_list) or "no endpoints (allow-list is empty)"))
