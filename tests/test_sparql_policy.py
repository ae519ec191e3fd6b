"""The SPARQL lexer and the SERVICE/LOAD policy, checked against Oxigraph's own reading.

Oxigraph is the judge: prologue resolution is compared with the IRIs Oxigraph binds, and every
bypass attempt Oxigraph would really send out (port 9 makes its HTTP client fail at once, without
any traffic) must be refused by the policy.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from bypass_corpus import allowed_queries, bypass_attempts

from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.sparql.policy import (
    PolicyError,
    allowed_endpoints,
    check_query,
    check_update,
    normalise_endpoint,
)
from fairtracks_ld.sparql.tokens import IRI, PNAME, STRING, VAR, LexError, tokenize, unescape

EVIL = "http://127.0.0.1:9/sparql"  # Oxigraph refuses port 9 before connecting
ALLOWED = "http://127.0.0.1:7/sparql"
ATTEMPTS = bypass_attempts(EVIL, ALLOWED)


def check(kind: str, text: str, allow: tuple[str, ...] = (ALLOWED,)) -> None:
    (check_query if kind == "query" else check_update)(text, allow)


@pytest.mark.parametrize(("kind", "text"), ATTEMPTS)
def test_every_bypass_attempt_is_refused(kind, text):
    with pytest.raises(PolicyError) as refused:
        check(kind, text)
    assert refused.value.message


def test_the_attempts_are_real_oxigraph_would_send_them():
    """Most attempts make Oxigraph itself reach out: the corpus tests something real."""
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("x:s"), ox.NamedNode("x:p"), ox.Literal("o")))
    reached = []
    for kind, text in ATTEMPTS:
        try:
            if kind == "query":
                list(store.query(text, prefixes=PREFIXES))
            else:
                ox.Store().update(text, prefixes=PREFIXES)
        except OSError:
            reached.append(text)
        except (SyntaxError, RuntimeError):  # not valid, or nothing to call
            pass
    assert len(reached) >= 30, len(reached)


@pytest.mark.parametrize("text", allowed_queries(ALLOWED))
def test_allowed_endpoints_pass(text):
    check_query(text, (ALLOWED,))


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { ?s ?p 'SERVICE <http://evil/>' }",
    "SELECT * WHERE { ?s ?p ?o } # LOAD <http://evil/>",
    "SELECT ?service WHERE { ?service a "
    "<http://www.w3.org/ns/sparql-service-description#Service> }",
    "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> "
    "SELECT * WHERE { ?s a sd:Service ; ft:download ?d }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o < 3) }",
])
def test_mentions_that_are_not_keywords_pass_with_an_empty_allow_list(text):
    check_query(text, ())


@pytest.mark.parametrize("text", [
    f"SELECT * WHERE {{ ?s ?p 'x'@enSERVICE <{EVIL}> {{ }} }}",
    "SELECT * WHERE { ?s ?p ?o . SERVICEex:x { } }",
    "PREFIX service: <http://127.0.0.1:7/> SELECT * WHERE { service:sparql { } }",
    f"BASE <{ALLOWED}> BASEx <http://127.0.0.1:9/> SELECT * WHERE {{ SERVICE <> {{ }} }}",
    "SELECT * WHERE { SERVICE SILENTex:sparql { } }",
    "SELECT * WHERE { SERVICE { } }",
    "SELECT * WHERE { SERVICE 'http://x' { } }",
    "SELECT * WHERE { SERVICE <relative> { } }",
    "SELECT * WHERE { SERVICE undeclared:sparql { } }",
    "SELECT * WHERE { SERVICE <file:///etc/passwd> { } }",
    "LOAD <file:///etc/passwd>",
])
def test_spellings_that_cannot_be_proved_are_refused(text):
    with pytest.raises(PolicyError):
        check("update" if text.startswith("LOAD") else "query", text)


def test_a_relative_target_resolves_against_the_callers_base():
    query = "SELECT * WHERE { SERVICE <sparql> { } }"
    check_query(query, (ALLOWED,), base="http://127.0.0.1:7/x")
    with pytest.raises(PolicyError):
        check_query(query, (ALLOWED,), base="http://127.0.0.1:9/x")


def test_anything_unreadable_is_refused_when_it_mentions_service():
    with pytest.raises(PolicyError, match="cannot be read"):
        check_query(f"SELECT * WHERE {{ SERVICE <{ALLOWED}> {{ ?s ?p ?o }} }} `", (ALLOWED,))
    check_query("SELECT * WHERE { ?s ?p ?o } `", ())  # no mention: Oxigraph reports the error


@pytest.mark.parametrize(("iri", "normal"), [
    ("HTTP://Example.ORG:80/sparql", "http://example.org/sparql"),
    ("https://example.org:443", "https://example.org/"),
    ("http://example.org:8080/%7euser/a%2fb", "http://example.org:8080/~user/a%2Fb"),
    ("http://[::1]:3030/ds/query", "http://[::1]:3030/ds/query"),
])
def test_endpoints_are_normalised(iri, normal):
    assert normalise_endpoint(iri) == normal


@pytest.mark.parametrize("iri", [
    "http://user@example.org/sparql", "http://example.org/a/../sparql", "http://example.org/./s",
    "http://example.org/a/%2E%2e/s", "ftp://example.org/sparql", "http://example.org:99999/",
    "http:///sparql", "http://exa%6dple.org/", "http://example.org/a b",
])
def test_endpoints_that_can_never_match(iri):
    with pytest.raises(ValueError):
        normalise_endpoint(iri)
    with pytest.raises(ValueError, match="allow-list entry"):
        allowed_endpoints([iri])


def test_codepoint_escapes():
    assert unescape(r"\u0053ERVICE \U0001F600 \u00") == "SERVICE \U0001F600 \\u00"
    first = tokenize(r'"\u0022" ?x "\u0022"', escapes="first")
    assert [t.kind for t in first] == [STRING] and first[0].text.startswith('"""')
    in_tokens = tokenize(r'"\u0022" ?x "\u0022"')
    assert [t.kind for t in in_tokens] == [STRING, VAR, STRING]


def test_tokens_keep_strings_comments_and_operators_apart():
    tokens = tokenize("SELECT ?x WHERE { ?x ex:a\\.b 'it''s' . FILTER(?a<?b && ?c>?d) } # x")
    assert [t.text for t in tokens if t.kind == PNAME] == ["ex:a\\.b"]
    assert not [t for t in tokens if t.kind == IRI]
    assert tokens[-1].text == "}"
    with pytest.raises(LexError):
        tokenize("SELECT `")


@pytest.mark.parametrize(("prologue", "term", "base"), [
    ("", "ft:Track", None),
    ("PREFIX ft: <http://other/> ", "ft:Track", None),
    ("BASE <http://one/x/y> ", "<../../../g>", None),
    ("BASE <http://one/x/y> ", "<.>", None),
    ("BASE <http://one/x/y> ", "<g;x?q#f>", None),
    ("BASE <http://one/x/> BASE <../y/> ", "<a>", None),
    ("BASE <http://one/a/../b/> ", "<c>", None),
    ("BASE <http://one/x/> ", "<//h/a>", None),
    ("BASE <http://one/x/?q> ", "<>", None),
    ("BASE <http://one/x/> PREFIX ex: <y/> BASE <http://two/z/> ", "ex:a", None),
    ("PREFIX ex: <http://one/a/../b/> ", "ex:a", None),
    ("PREFIX : <http://one/> ", ":a\\/b%2F\\.c", None),
    ("", "<http://one/a/../b>", None),
    ("", "<HTTP://One:80/%7e>", None),
    ("", "<http://one/\\u0041>", None),
    ("PREFIX ex: <rel/> ", "ex:a", "http://b/c/"),
    *[("", f"<{ref}>", base) for base, ref in [
        ("http://one/a/../b/", "../c"), ("http://one/a/../b/", "../../c"),
        ("http://one/a/../b/", "../../../../c"), ("http://one/a/./b/", "./c"),
        ("http://one/a/b/..", "c"), ("http://one/a/..", "?q"), ("http://one/a/..", ""),
        ("http://one/a/../b/", "/c/../d"), ("http://one/a/../b/", "//h/c/../d"),
        ("http://one/a/../b/", "#f"), ("http://one", "c"), ("urn:a:b", "c"),
        ("http://one/a/b?q#f", "../x/./y/.."), ("http://one/a/b", "g/."), ("http://one/a/", ".."),
        ("http://one/a/b", "x:y/../z"), ("http://one/a", "?"), ("http://one/a/b", ";p"),
    ]],
    ("", "<rel>", "http://b/c/d"),
])
def test_iris_resolve_as_oxigraph_resolves_them(prologue, term, base):
    query = f"{prologue}SELECT ?x WHERE {{ BIND({term} AS ?x) }}"
    expected = next(iter(ox.Store().query(query, prefixes=PREFIXES, base_iri=base)))["x"].value
    tokens = tokenize(query, base=base, prefixes=PREFIXES)
    end = query.index(" AS ")
    bound = next(t for t in reversed(tokens) if t.kind in (IRI, PNAME) and t.start < end)
    assert bound.iri == expected


def test_mutated_attempts_that_oxigraph_sends_out_are_all_refused():
    """Differential fuzzing (fixed seed, bounded): mutate the corpus and queries that hide a
    SERVICE in strings, comments and IRIs; whenever Oxigraph would call the unlisted endpoint,
    the policy must have refused the text."""
    import random

    hidden = [
        ("query", f"SELECT * WHERE {{ BIND(\"a SERVICE <{EVIL}> {{ }} b\" AS ?x) }}"),
        ("query", f"SELECT * WHERE {{ BIND(''' SERVICE <{EVIL}> {{ }} ''' AS ?x) }}"),
        ("query", f"SELECT * WHERE {{ BIND(1 AS ?a) FILTER(?a<?b) # SERVICE <{EVIL}> {{ }}\n}}"),
        ("query", "PREFIX e: <http://127.0.0.1:9/> SELECT * WHERE { BIND(<x:a#SERVICE> AS ?x) "
                  "?s ?p 'e:sparql { }' }"),
        ("update", f"INSERT DATA {{ <x:a> <x:b> 'LOAD <{EVIL}>' }} # ; LOAD <{EVIL}>"),
        ("query", f"SELECT * WHERE {{ ?s ?p ?o FILTER(?o<?x) }} ## }}SERVICE<{EVIL}>{{}}"),
    ]
    seeds = ATTEMPTS + hidden + [
        ("query", q.replace("SERVICE <", "SERVICE SILENT <")) for q in allowed_queries(ALLOWED)]
    noise = [*"{}()<>\"'#?$:.;,\\^@*+-/!=|&\n\t\r ", "\\u0022", "\\u0027", "\\u003C", "\\u003E",
             "\\u0023", "\\u000A", "SERVICE", " LOAD ", "true", "'''", '"""', "?a<?b", "FILTER(",
             f"SERVICE <{EVIL}> {{ }}", f"}}SERVICE<{EVIL}>{{}}", "e:", "\\'", '\\"']
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("x:s"), ox.NamedNode("x:p"), ox.Literal("o")))
    rng = random.Random(20261205)
    reached = 0
    for _ in range(4000):
        kind, text = rng.choice(seeds)
        for _ in range(rng.randint(1, 5)):
            at, roll = rng.randrange(len(text) + 1), rng.random()
            if roll < 0.6:
                text = text[:at] + rng.choice(noise) + text[at:]
            elif roll < 0.8:
                text = text[:at] + text[at + rng.randint(1, 6):]
            else:
                other = rng.randrange(len(text) + 1)
                text = text[:at] + text[min(at, other):max(at, other)] + text[at:]
        try:
            if kind == "query":
                list(store.query(text, prefixes=PREFIXES))
            else:
                ox.Store().update(text, prefixes=PREFIXES)
            continue
        except OSError as error:
            if "port 9 " not in str(error):
                continue
        except (SyntaxError, RuntimeError, ValueError):
            continue
        reached += 1
        with pytest.raises(PolicyError):
            check(kind, text)
    assert reached > 30, reached
