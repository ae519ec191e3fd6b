"""Attempts to make the server reach an endpoint that is not on its allow-list, shared by the
policy's unit tests (against Oxigraph itself) and the live server's test (against a listener)."""

from __future__ import annotations

from urllib.parse import urlsplit


def bypass_attempts(evil: str, allowed: str) -> list[tuple[str, str]]:
    """(kind, text) pairs, kind "query" or "update"; `evil` and `allowed` are endpoint IRIs
    ending in `/sparql`. Each must be refused."""
    host = urlsplit(evil).netloc
    ok = urlsplit(allowed).netloc
    pattern = "{ ?s ?p ?o }"
    escaped_colon = evil.replace(":", "\\u003A", 1)
    queries = [
        f"SELECT * WHERE {{ SERVICE <{evil}> {pattern} }}",
        # rdflib could not parse a `#` IRI before SERVICE or OPTIONAL, and the check let it pass
        f"SELECT ?o WHERE {{ OPTIONAL {{ ?x a <http://a#b> }} SERVICE <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ ?t a ft:Track . SERVICE <{evil}> {pattern} }}",
        f"select * where {{ service <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ SeRvIcE SiLeNt <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE<{evil}>{pattern} }}",
        f"SELECT * WHERE {{ SERVICESILENT<{evil}>{pattern} }}",
        f"PREFIX ex: <http://{host}/> SELECT * WHERE {{ SERVICEex:sparql {pattern} }}",
        f"SELECT * WHERE {{ ?s ?p trueSERVICE <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ ?s ?p 1SERVICE <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE # <{allowed}>\n <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ # a comment ends at CR\r SERVICE <{evil}> {pattern} }}",
        f"# SERVICE <{allowed}>\nSELECT * WHERE {{ SERVICE <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ \\u0053ERVICE <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ \\U00000053ervice <{evil}> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <{escaped_colon}> {pattern} }}",
        f'SELECT * WHERE {{ BIND("\\u0022" AS ?x) SERVICE <{evil}> {pattern} '
        f'BIND("\\u0022" AS ?y) }}',
        f"BASE <http://{host}/> SELECT * WHERE {{ SERVICE <sparql> {pattern} }}",
        f"BASE <http://{ok}/x/> BASE <//{host}/> SELECT * WHERE {{ SERVICE <sparql> {pattern} }}",
        f"BASE <{allowed}> SELECT * WHERE {{ SERVICE <//{host}/sparql> {pattern} }}",
        f"PREFIX ex: <http://{ok}/> PREFIX ex: <http://{host}/> "
        f"SELECT * WHERE {{ SERVICE ex:sparql {pattern} }}",
        f"PREFIX ex: <http://{ok}/> PREFIXex:<http://{host}/> "
        f"SELECT * WHERE {{ SERVICE ex:sparql {pattern} }}",
        f"PREFIX ft: <http://{host}/> SELECT * WHERE {{ SERVICE ft:sparql {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <{evil.upper().replace('HTTP', 'HtTp')}> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <{allowed}/../../evil> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <http://{ok}/evil/../sparql> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <http://{ok}/evil/%2e%2e/sparql> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <http://{ok}/evil/..;x/sparql> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <http://{ok}@{host}/sparql> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <http://user@{ok}/sparql> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <{allowed}x> {pattern} }}",
        f"SELECT * WHERE {{ SERVICE <{allowed}/more> {pattern} }}",
        f"PREFIX al: <http://{ok}/> SELECT * WHERE {{ SERVICE al:sparql\\/..\\/x {pattern} }}",
        f"SELECT * WHERE {{ {{ SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{evil}> {pattern} "
        f"}} }} }} }} }}",
        f"SELECT * WHERE {{ SERVICE <{allowed}> {{ SERVICE <{evil}> {pattern} }} }}",
        f"SELECT * WHERE {{ VALUES ?e {{ <{evil}> }} SERVICE ?e {pattern} }}",
        f"SELECT * WHERE {{ BIND(<{evil}> AS ?e) SERVICE SILENT $e {pattern} }}",
        f"PREFIX : <http://{host}/> SELECT * WHERE {{ BIND(1 AS ?a) BIND(2 AS ?b) "
        f"FILTER(?a<?b)SERVICE:sparql#>\n{pattern} }}",
        f"PREFIX : <http://{host}/> SELECT * WHERE {{ BIND(1 AS ?a) "
        f"FILTER(?a<'x>')SERVICE :sparql {pattern} #'\n}}",
        f"SELECT * WHERE {{ SERVICE\t\n<{evil}>\n{pattern} }}",
    ]
    updates = [
        f"INSERT {{ <x:s> <x:p> ?o }} WHERE {{ SERVICE <{evil}> {pattern} }}",
        f"LOAD <{evil}>",
        f"LOAD SILENT <{evil}> INTO GRAPH <x:g>",
        f"load<{evil}>",
        f"LOADSILENT<{evil}>",
        f"PREFIX ex: <http://{host}/> LOADex:sparql",
        f"INSERT DATA {{ <x:a> <x:b> <x:c> }} ; LOAD <{evil}>",
        f"LOAD <{allowed}/../x>",
        "LOAD ?source",
        f"\\u004cOAD <{evil}>",
    ]
    return [("query", q) for q in queries] + [("update", u) for u in updates]


def allowed_queries(allowed: str) -> list[str]:
    """Queries that reach the allowed endpoint and nothing else; each must run."""
    ok = urlsplit(allowed).netloc
    pattern = "{ ?s ?p ?o }"
    return [
        f"SELECT * WHERE {{ SERVICE <{allowed}> {pattern} }}",
        f"SELECT ?o WHERE {{ OPTIONAL {{ ?x a <http://a#b> }} SERVICE <{allowed}> {pattern} }}",
        f"PREFIX al: <http://{ok}/> SELECT * WHERE {{ SERVICE SILENT al:sparql {pattern} }}",
        f"BASE <http://{ok}/x/> SELECT * WHERE {{ ?t a ft:Track OPTIONAL {{ ?t ft:load ?x }} "
        f"SERVICE </sparql> {pattern} }}",
        f"# service: SERVICE <http://elsewhere.example/>\nSELECT ?service WHERE {{ "
        f"SERVICE <{allowed}> {{ ?service ?p 'LOAD <http://elsewhere.example/>' }} }}",
    ]
