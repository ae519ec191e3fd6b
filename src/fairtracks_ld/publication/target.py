"""The external store, spoken to only through standard protocols: the SPARQL 1.1 Protocol for
queries, SPARQL 1.1 Update, and the SPARQL 1.1 Graph Store HTTP Protocol. Every failure becomes
a `TargetError` with one line a user can act on (the engine's own message included)."""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pyoxigraph as ox
import requests
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

USER_ENV = "FAIRTRACKS_LD_TARGET_USER"
PASSWORD_ENV = "FAIRTRACKS_LD_TARGET_PASSWORD"
TOKEN_ENV = "FAIRTRACKS_LD_TARGET_TOKEN"
AUTH_KINDS = ("none", "basic", "digest", "bearer")
N_TRIPLES = "application/n-triples"
RETRIES = 4
DEADLOCK = re.compile(r"\bSR172\b|\b40001\b|[Dd]eadlock")
# Virtuoso's Graph Store took 17 s for one PUT of 200,000 triples and gave no answer within
# 300 s for 500,000 (bench/results/backend.md): bigger graphs go by its bulk loader or by update
VIRTUOSO_PUT_LIMIT = 200_000
BULK_HINT = ("publish with Virtuoso's bulk loader (--method virtuoso-bulk --virtuoso-isql "
             "HOST:1111 --bulk-dir DIR) or by SPARQL Update (--method update)")


class TargetError(RuntimeError):
    """The target refused, failed or could not be reached; the message is one line."""


class BlankNodesTooConnected(TargetError):
    """A graph's blank nodes form a group bigger than one update request may carry (a
    validation report hangs all its results off one blank node): only a Graph Store PUT can
    send it whole."""


class Bearer(AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def secret(name: str) -> str | None:
    """`$NAME`, or the first line of the file `$NAME_FILE` (so it never sits on a command line)."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(name + "_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise TargetError(f"cannot read ${name}_FILE {path}: {error.strerror}") from None


def auth_from_env(kind: str) -> AuthBase | None:
    """Credentials for the target, from the environment: basic/digest take
    $FAIRTRACKS_LD_TARGET_USER and $FAIRTRACKS_LD_TARGET_PASSWORD (or _PASSWORD_FILE), bearer
    takes $FAIRTRACKS_LD_TARGET_TOKEN (or _TOKEN_FILE)."""
    if kind == "none":
        return None
    if kind == "bearer":
        token = secret(TOKEN_ENV)
        if not token:
            raise TargetError(f"--auth bearer needs ${TOKEN_ENV} or ${TOKEN_ENV}_FILE")
        return Bearer(token)
    user, password = os.environ.get(USER_ENV), secret(PASSWORD_ENV)
    if not user or password is None:
        raise TargetError(f"--auth {kind} needs ${USER_ENV} and ${PASSWORD_ENV} "
                          f"(or ${PASSWORD_ENV}_FILE)")
    return HTTPDigestAuth(user, password) if kind == "digest" else HTTPBasicAuth(user, password)


def _engine_message(answer: requests.Response) -> str:
    """The engine's own explanation, shortened to one line (Virtuoso answers in text/plain,
    oxigraph too; HTML pages are stripped of their tags)."""
    text = answer.text or ""
    if "html" in answer.headers.get("Content-Type", ""):
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text[:300] + ("…" if len(text) > 300 else "")


@dataclass
class Endpoints:
    """Where the target listens: `query` (SPARQL Protocol), `update` (SPARQL Update; the query
    endpoint unless given), `gsp` (Graph Store protocol, optional)."""

    query: str
    update: str | None = None
    gsp: str | None = None


class Target:
    """One external SPARQL store; all requests share a session (keep-alive) and a timeout."""

    def __init__(self, endpoints: Endpoints, auth: AuthBase | None = None,
                 timeout: float = 300.0) -> None:
        self.endpoints = endpoints
        self.session = requests.Session()
        self.session.auth = auth
        self.timeout = timeout
        self.requests = 0  # how many requests this run sent (reported, and counted by tests)
        self.writes = 0  # how many of them were meant to change the target
        self.server = ""  # the engine's Server header, once it answered
        self.put_limit = VIRTUOSO_PUT_LIMIT  # largest graph one PUT sends to Virtuoso

    @property
    def is_virtuoso(self) -> bool:
        return self.server.startswith("Virtuoso")

    def too_big_to_put(self, graph: str, triples: Iterable[object]) -> TargetError | None:
        """Why `graph` must not go by one PUT (Virtuoso, over `put_limit` triples), or None."""
        if not self.is_virtuoso or sum(1 for _ in islice(triples, self.put_limit + 1)
                                       ) <= self.put_limit:
            return None
        return self._put_refusal(graph)

    def _put_refusal(self, graph: str) -> TargetError:
        return TargetError(f"<{graph}> has more than {self.put_limit:,} triples, too many for "
                           f"one Graph Store PUT on Virtuoso (it takes minutes or never "
                           f"answers; --max-put): {BULK_HINT}")

    def _send(self, method: str, url: str, what: str, write: bool = True,
              **kwargs) -> requests.Response:
        """One request; a write the engine aborted as a transaction deadlock (Virtuoso's
        SR172 / SQLSTATE 40001, transient under concurrent checkpoints) is tried again."""
        for attempt in range(RETRIES):
            answer = self._attempt(method, url, what, write, **kwargs)
            if not (answer.status_code >= 500 and DEADLOCK.search(answer.text or "")):
                break
            if hasattr(kwargs.get("data"), "seek"):
                kwargs["data"].seek(0)
            time.sleep(2 ** attempt)
        if answer.status_code >= 400:
            hint = (" (check the credentials and --auth)" if answer.status_code in (401, 403)
                    else "")
            raise TargetError(f"{what}: {url} answered {answer.status_code} "
                              f"{answer.reason}{hint}: {_engine_message(answer)}")
        return answer

    def _attempt(self, method: str, url: str, what: str, write: bool,
                 **kwargs) -> requests.Response:
        self.requests += 1
        self.writes += write
        try:
            answer = self.session.request(method, url, timeout=self.timeout, **kwargs)
            self.server = answer.headers.get("Server", "")
            return answer
        except requests.Timeout:
            raise TargetError(f"{what}: {url} did not answer within {self.timeout:g} s "
                              "(--timeout)") from None
        except requests.ConnectionError as error:
            found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
            reason = found.group(1).strip() if found else _short(error)
            raise TargetError(f"{what}: cannot reach {url} ({reason})") from None
        except requests.RequestException as error:
            raise TargetError(f"{what}: {url}: {_short(error)}") from None

    # ---- reading ----------------------------------------------------------------------------

    def select(self, query: str) -> list[dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]]:
        """Rows of a SELECT query (SPARQL JSON results, parsed by Oxigraph)."""
        answer = self._send("POST", self.endpoints.query, "query", write=False,
                            data={"query": query},
                            headers={"Accept": "application/sparql-results+json"})
        try:
            solutions = ox.parse_query_results(answer.content,
                                               format=ox.QueryResultsFormat.JSON)
        except SyntaxError as error:
            raise TargetError(f"query: {self.endpoints.query} did not answer SPARQL JSON "
                              f"results ({_short(error)})") from None
        names = [v.value for v in solutions.variables]
        return [{name: row[name] for name in names} for row in solutions]

    def triples(self, graph: str) -> list[ox.Triple]:
        """Every triple of one graph of the target (CONSTRUCT, N-Triples)."""
        answer = self._send("POST", self.endpoints.query, "query", write=False,
                            data={"query": f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> "
                                           "{ ?s ?p ?o } }"},
                            headers={"Accept": N_TRIPLES})
        try:
            return list(ox.parse(answer.content, format=ox.RdfFormat.N_TRIPLES))
        except SyntaxError as error:
            raise TargetError(f"query: {self.endpoints.query} did not answer N-Triples "
                              f"({_short(error)})") from None

    # ---- writing: SPARQL Update -------------------------------------------------------------

    def update(self, operations: str, what: str = "update") -> None:
        self._send("POST", self.endpoints.update or self.endpoints.query, what,
                   data=operations.encode("utf-8"),
                   headers={"Content-Type": "application/sparql-update; charset=utf-8"})

    def insert(self, graph: str, triples: Iterable[ox.Triple], batch: int) -> None:
        """`INSERT DATA` in requests of at most `batch` triples. Triples with a blank node all
        go into one `INSERT {…} WHERE {}` (Virtuoso refuses blank nodes in INSERT DATA), so a
        blank node stays one node in the target."""
        blank: list[ox.Triple] = []
        plain = _without_blank_nodes(triples, blank)
        while chunk := list(islice(plain, batch)):
            self.update(f"INSERT DATA {graph_block(graph, chunk)}",
                        f"INSERT DATA into <{graph}>")
        # a template compiles to more than INSERT DATA does (Virtuoso: at most 10,000 lines
        # of SQL, about 1,500 triples), so blank-node requests carry a quarter of a batch
        limit = max(1, batch // 4)
        for chunk in blank_node_batches(blank, limit):
            if len(chunk) > limit and self.endpoints.gsp:
                raise BlankNodesTooConnected(f"<{graph}> has {len(chunk)} triples linked by "
                                             "blank nodes")
            try:
                self.update(f"INSERT {graph_block(graph, chunk)} WHERE {{}}",
                            f"INSERT into <{graph}>")
            except TargetError as error:
                if len(chunk) <= limit:
                    raise
                raise TargetError(f"{error} ({len(chunk)} triples linked by blank nodes must "
                                  "go in one request: give the Graph Store endpoint, --gsp, "
                                  "so such a graph is sent by PUT)") from None

    # ---- writing: Graph Store protocol ------------------------------------------------------

    def put(self, graph: str, triples: Iterable[ox.Triple]) -> None:
        """Replace one graph in one PUT, so the engine swaps it whole. The N-Triples body is
        spooled to a temporary file and sent with a Content-Length (Virtuoso misreads chunked
        request bodies), so memory stays flat however big the graph."""
        sent = 0
        with tempfile.TemporaryFile() as body:
            for chunk, count in _n_triples(triples):
                body.write(chunk)
                sent += count
                if self.is_virtuoso and sent > self.put_limit:
                    raise self._put_refusal(graph)
            body.seek(0)
            self._send("PUT", self._gsp(), f"PUT <{graph}>", params={"graph": graph},
                       data=body, headers={"Content-Type": N_TRIPLES})

    def delete(self, graph: str) -> None:
        """Remove one graph; a graph the target does not have is not an error."""
        try:
            self._send("DELETE", self._gsp(), f"DELETE <{graph}>", params={"graph": graph})
        except TargetError as error:
            if " answered 404 " not in str(error):
                raise

    def _gsp(self) -> str:
        if not self.endpoints.gsp:
            raise TargetError("the Graph Store protocol needs its endpoint: --gsp URL")
        return self.endpoints.gsp


def _short(error: object) -> str:
    text = " ".join(str(error).split())
    text = re.sub(r"<urllib3\.[^>]*>: ", "", text)
    return text[:200]


def _without_blank_nodes(triples: Iterable[ox.Triple], blank: list[ox.Triple]
                         ) -> Iterator[ox.Triple]:
    for triple in triples:
        if isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode):
            blank.append(triple)
        else:
            yield triple


def blank_node_batches(triples: list[ox.Triple], batch: int) -> Iterator[list[ox.Triple]]:
    """Triples with blank nodes in batches of about `batch` that never split a group of
    connected blank nodes (an OWL restriction, a validation result) across two requests."""
    parent: dict[ox.BlankNode, ox.BlankNode] = {}

    def root(node: ox.BlankNode) -> ox.BlankNode:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for triple in triples:
        nodes = [t for t in (triple.subject, triple.object) if isinstance(t, ox.BlankNode)]
        if len(nodes) == 2:
            parent[root(nodes[0])] = root(nodes[1])
        else:
            root(nodes[0])
    groups: dict[ox.BlankNode, list[ox.Triple]] = {}
    for triple in triples:
        node = triple.subject if isinstance(triple.subject, ox.BlankNode) else triple.object
        groups.setdefault(root(node), []).append(triple)
    chunk: list[ox.Triple] = []
    for group in groups.values():
        if chunk and len(chunk) + len(group) > batch:
            yield chunk
            chunk = []
        chunk.extend(group)
    if chunk:
        yield chunk


def graph_block(graph: str, triples: list[ox.Triple]) -> str:
    # N-Triples lines are SPARQL triple patterns (same terms, same escapes)
    body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
    return f"{{ GRAPH <{graph}> {{\n{body}}} }}"


def _n_triples(triples: Iterable[ox.Triple], batch: int = 20_000
               ) -> Iterator[tuple[bytes, int]]:
    iterator = iter(triples)
    while chunk := list(islice(iterator, batch)):
        yield ox.serialize(chunk, format=ox.RdfFormat.N_TRIPLES), len(chunk)
