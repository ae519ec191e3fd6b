"""The endpoint on the open web: SERVICE/LOAD fail closed, Bearer-only writes, errors as answers.

One live server (`fairtracks-ld serve`, allow-list = one recording HTTP endpoint) is attacked
with the bypass corpus while a second recording endpoint stands for everything unlisted: it must
never see a connection. Writes need `Authorization: Bearer` with the token from a file that is
rotated during the tests. Errors are plain text or JSON, never HTML or a traceback, and a bounded
fuzz run (fixed seed) sees no 500.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from bypass_corpus import allowed_queries, bypass_attempts
from servers import EXAMPLES, cli, free_port, serve

from fairtracks_ld.store.snapshots import SnapshotReader
from fairtracks_ld.web.executor import QueryError, QueryExecutor, QueryRequest

TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"
FT = "PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"


class Recorder(ThreadingHTTPServer):
    """An HTTP endpoint on loopback that records every connection and request path, and
    answers any request with one empty SPARQL solution."""

    daemon_threads = True

    def __init__(self) -> None:
        self.connections = 0
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _Answer)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self):  # every accepted connection, even one that never sends a request
        accepted = super().get_request()
        self.connections += 1
        return accepted

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sparql"


class _Answer(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.paths.append(self.path)
        body = b'{"head":{"vars":[]},"results":{"bindings":[{}]}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("security")
    allowed, unlisted = Recorder(), Recorder()
    port = free_port()
    store = folder / "store"
    cli(store, f"http://127.0.0.1:{port}/", "load", "--allow-invalid", *EXAMPLES)
    token_file = folder / "admin-token"
    token_file.write_text("first-token\n", encoding="utf-8")
    error_log = folder / "error.log"
    env = {"FAIRTRACKS_LD_ADMIN_TOKEN_FILE": str(token_file)}
    try:
        with serve(store, port, "--allow-service", allowed.endpoint, "--query-timeout", "20",
                   "--log", str(error_log), env=env) as base:
            yield {"base": base, "sparql": base + "sparql", "allowed": allowed,
                   "unlisted": unlisted, "token_file": token_file, "error_log": error_log,
                   "store": store}
    finally:
        allowed.shutdown()
        unlisted.shutdown()


def token(site) -> str:
    return site["token_file"].read_text(encoding="utf-8").strip()


def send(site, kind: str, text: str, form: int, **headers: str) -> requests.Response:
    """A query or update in one of the protocol's request forms."""
    url = site["sparql"]
    if kind == "update":
        headers["Authorization"] = f"Bearer {token(site)}"
        if form % 2:
            return requests.post(url, data={"update": text}, headers=headers, timeout=30)
        return requests.post(url, data=text.encode(), timeout=30,
                             headers={"Content-Type": "application/sparql-update", **headers})
    if form % 3 == 0:
        return requests.get(url, params={"query": text}, headers=headers, timeout=30)
    if form % 3 == 1:
        return requests.post(url, data={"query": text}, headers=headers, timeout=30)
    return requests.post(url, data=text.encode(), timeout=30,
                         headers={"Content-Type": "application/sparql-query", **headers})


def test_no_bypass_attempt_reaches_an_unlisted_endpoint(site):
    allowed, unlisted = site["allowed"], site["unlisted"]
    before = list(allowed.paths)
    attempts = bypass_attempts(unlisted.endpoint, allowed.endpoint)
    for form, (kind, text) in enumerate(attempts):
        response = send(site, kind, text, form)
        assert response.status_code == 403, (text, response.status_code, response.text)
        assert response.headers["Content-Type"].startswith("text/plain")
        assert len(response.text.strip()) > 20, text
    assert unlisted.connections == 0
    assert allowed.paths == before  # nothing else on the allowed host either (dot segments, ...)


def test_the_allowed_endpoint_is_really_reached(site):
    allowed = site["allowed"]
    for form, text in enumerate(allowed_queries(allowed.endpoint)):
        before = len(allowed.paths)
        response = send(site, "query", FT + text, form)
        assert response.status_code == 200, (text, response.text)
        assert len(allowed.paths) > before, text
    assert {path.split("?")[0] for path in allowed.paths} == {"/sparql"}
    assert site["unlisted"].connections == 0


class _Redirect(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(302)
        self.send_header("Location", self.server.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


def test_an_allowed_endpoint_cannot_redirect_elsewhere():
    """Oxigraph's HTTP client (SERVICE and LOAD) follows no redirect: keep it so."""
    import pyoxigraph as ox

    unlisted = Recorder()
    redirector = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    redirector.target = unlisted.endpoint
    threading.Thread(target=redirector.serve_forever, daemon=True).start()
    allowed = f"http://127.0.0.1:{redirector.server_address[1]}/sparql"
    try:
        with pytest.raises(OSError, match="redirect"):
            list(ox.Store().query(f"SELECT * WHERE {{ SERVICE <{allowed}> {{ ?s ?p ?o }} }}"))
        with pytest.raises(OSError, match="redirect"):
            ox.Store().update(f"LOAD <{allowed}>")
        assert unlisted.connections == 0
    finally:
        redirector.shutdown()
        unlisted.shutdown()


def test_isolated_query_workers_cannot_connect_anywhere(site):
    """With an empty allow-list the workers drop their network: even a SERVICE that reached a
    worker (the executor itself applies no policy) finds no loopback to connect to."""
    probe = subprocess.run([sys.executable, "-c", "from fairtracks_ld.web.isolation import "
                            "drop_network; print(drop_network() or '')"],
                           capture_output=True, text=True, timeout=60)
    if probe.stdout.strip():
        pytest.skip(f"this kernel does not let us create a network namespace: {probe.stdout}")
    target = Recorder()
    query = f"SELECT * WHERE {{ SERVICE <{target.endpoint}> {{ ?s ?p ?o }} }}"
    try:
        for isolate in (True, False):
            executor = QueryExecutor(SnapshotReader(site["store"]), workers=1, timeout=20,
                                     isolate_network=isolate)
            try:
                outcome = executor.run(QueryRequest(query, "application/sparql-results+json",
                                                    "text/turtle"))
            except QueryError as error:
                outcome = error
            finally:
                executor.close()
            if isolate:
                assert isinstance(outcome, QueryError) and outcome.status == 502, outcome
                assert target.connections == 0
            else:  # the control: the same query without isolation does connect
                assert target.connections >= 1, outcome
    finally:
        target.shutdown()


def test_writes_need_a_bearer_token(site):
    update = "INSERT DATA { GRAPH <urn:x:scratch> { <urn:x:a> <urn:x:b> 'c' } }"
    url = site["sparql"]
    secret = token(site)
    for header, error in [(None, False), (secret, True), (f"Basic {secret}", True),
                          ("Bearer", True), ("Bearer wrong-token", True),
                          (f"Bearer {secret}x", True)]:
        headers = {"Authorization": header} if header is not None else {}
        refused = requests.post(url, data={"update": update}, headers=headers, timeout=30)
        assert refused.status_code == 401, header
        challenge = refused.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="fairtracks-ld"')
        assert ('error="invalid_token"' in challenge) is error, header
        assert "token" in refused.text
    done = requests.post(url, data={"update": update}, timeout=30,
                         headers={"Authorization": f"bearer  {secret} "})
    assert done.status_code == 204, done.text


def test_the_token_file_is_read_again_so_it_can_be_rotated(site):
    update = "INSERT DATA { GRAPH <urn:x:scratch> { <urn:x:rotated> <urn:x:b> 'c' } }"
    old = token(site)
    site["token_file"].write_text("second-token", encoding="utf-8")
    headers = {"Authorization": f"Bearer {old}"}
    assert requests.post(site["sparql"], data={"update": update}, headers=headers,
                         timeout=30).status_code == 401
    headers = {"Authorization": "Bearer second-token"}
    assert requests.post(site["sparql"], data={"update": update}, headers=headers,
                         timeout=30).status_code == 204


def test_writes_are_logged_who_what_when(site):
    update = "INSERT DATA { GRAPH <urn:x:scratch> { <urn:x:logged> <urn:x:b> 'c' } }"
    assert send(site, "update", update, 1).status_code == 204
    deadline = time.time() + 60  # the line is written after answering (a hang guard)
    while "urn:x:logged" not in site["error_log"].read_text(encoding="utf-8"):
        assert time.time() < deadline, site["error_log"].read_text(encoding="utf-8")
        time.sleep(0.2)
    line = next(line for line in site["error_log"].read_text(encoding="utf-8").splitlines()
                if "urn:x:logged" in line)
    assert "write at 20" in line and "127.0.0.1" in line and "SPARQL Update" in line
    assert token(site) not in line


def test_a_failing_update_is_a_400_in_plain_text(site):
    for update, problem in [("DROP GRAPH <urn:x:none>", "does not exist"),
                            ("INSERT DATA { <a> }", "syntax error")]:
        response = send(site, "update", update, 0)
        assert response.status_code == 400, response.text
        assert response.headers["Content-Type"].startswith("text/plain")
        assert problem in response.text


def test_errors_are_plain_text_or_json_never_html(site):
    base = site["base"]
    missing = requests.get(base + "no/such/page", timeout=30)
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/plain")
    assert "404 Not Found" in missing.text
    as_json = requests.get(base + "no/such/page", headers={"Accept": "application/json"},
                           timeout=30)
    assert as_json.json()["status"] == 404 and as_json.headers["Vary"] == "Accept"
    browser = requests.get(base + "collection/nope/track/x", timeout=30,
                           headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.status_code == 404 and "text/html" not in browser.headers["Content-Type"]
    method = requests.put(site["sparql"], data="x", timeout=30)
    assert method.status_code == 405 and "POST" in method.headers["Allow"]
    assert method.headers["Content-Type"].startswith("text/plain")
    unacceptable = requests.get(site["sparql"], params={"query": "ASK {}"}, timeout=30,
                                headers={"Accept": "image/png"})
    assert unacceptable.status_code == 406 and unacceptable.headers["Vary"] == "Accept"
    long_line = requests.get(site["sparql"], params={"query": "ASK {}" + " " * 9000},
                             timeout=30)
    assert long_line.status_code == 414
    assert long_line.headers["Content-Type"].startswith("text/plain")
    assert "<html" not in long_line.text
    huge = requests.post(site["sparql"], data=b"ASK {}" + b" " * 17_000_000, timeout=60,
                         headers={"Content-Type": "application/sparql-query"})
    assert huge.status_code == 413 and huge.headers["Content-Type"].startswith("text/plain")


def test_weak_etags_match_on_if_none_match(site):
    url = site["base"] + TRACK
    first = requests.get(url, headers={"Accept": "text/turtle"}, timeout=30)
    etag = first.headers["ETag"].removeprefix("W/")
    for condition in (etag, f"W/{etag}", f'"other", W/{etag}', "*"):
        again = requests.get(url, headers={"Accept": "text/turtle", "If-None-Match": condition},
                             timeout=30)
        assert again.status_code == 304, condition
    changed = requests.get(url, timeout=30,
                           headers={"Accept": "text/turtle", "If-None-Match": 'W/"other"'})
    assert changed.status_code == 200


# ---- bounded fuzzing: fixed seed, a few hundred requests, stops by itself --------------------

SEEDS = [
    "SELECT * WHERE { ?s ?p ?o } LIMIT 5",
    FT + "SELECT ?t ?l WHERE { ?t a ft:Track ; ft:label_short ?l } ORDER BY ?l LIMIT 3",
    FT + "ASK { ?s a ft:Track }",
    FT + "CONSTRUCT { ?s ?p ?o } WHERE { ?s a ft:Track ; ?p ?o } LIMIT 10",
    "DESCRIBE <{base}" + TRACK + ">",
    "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
    "SELECT * FROM <urn:x:g> FROM NAMED <urn:x:h> WHERE { ?s ?p ?o } LIMIT 1",
    "SELECT ?x ?y WHERE { VALUES ?x { 1 2 'a'@en } FILTER(?x > 1) BIND(STR(?x) AS ?y) }",
    "SELECT * WHERE { SERVICE <{allowed}> { ?s ?p ?o } }",
    FT + "SELECT ?l WHERE { ?t ft:label_short ?l FILTER(REGEX(?l, 'B', 'i')) } LIMIT 2",
    "BASE <http://e.org/a/> PREFIX e: <b#> SELECT * WHERE { <c> e:d \"\"\"x\"\"\" } # c",
    "SELECT * WHERE { ?s <http://a#b>* ?o } LIMIT 1",
]
UPDATES = [
    "INSERT DATA { GRAPH <urn:x:fuzz> { <urn:x:a> <urn:x:b> 'c' } }",
    "DELETE DATA { GRAPH <urn:x:fuzz> { <urn:x:a> <urn:x:b> 'c' } }",
    "LOAD <{allowed}> INTO GRAPH <urn:x:fuzz>",
]
NOISE = [*"{}()<>\"'#?$:.;,\\^@*+-/!=|&\n\t\r ", "\x00", "\u2028", "é", "\\u0022", "%00"]
PATHS = ["sparql"] * 8 + ["", TRACK, TRACK + ".ttl", "graph/x", "no/where", "search",
                          "api/v1/repositories", "query", "void", "collection/%ff"]
ACCEPTS = [None, "*/*", "text/html", "application/json", "application/sparql-results+json",
           "text/turtle", "image/png", "*/*;q=abc", ",,,", "a/b/c", "text/*;q=0.1, x" * 200,
           "application/rdf+xml;q=0.5, text/csv"]
CONTENT_TYPES = ["application/sparql-query", "application/sparql-update",
                 "application/x-www-form-urlencoded", "text/plain", "",
                 "application/sparql-query; charset=latin-1", "multipart/form-data; boundary=x",
                 "application/json"]


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(0, 4)):
        at = rng.randrange(len(text) + 1)
        choice = rng.random()
        if choice < 0.4:
            text = text[:at] + rng.choice(NOISE) + text[at:]
        elif choice < 0.6:
            text = text[:at] + text[at + rng.randint(1, 8):]
        elif choice < 0.75:
            words = text.split(" ")
            rng.shuffle(words)
            text = " ".join(words)
        elif choice < 0.9:
            text = text[:at] + text[max(0, at - 20):at] + text[at:]
        else:
            text = text.swapcase()
    return text


def _body(rng: random.Random, text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    roll = rng.random()
    if roll < 0.08:
        return data + bytes(rng.randrange(256) for _ in range(rng.randint(1, 50)))
    if roll < 0.1:
        return b"\xff\xfe\xc3(" + data
    if roll < 0.11:
        return data * (18_000_000 // max(len(data), 1))  # over the request size limit
    return data


def _request(rng: random.Random, site: dict) -> requests.Response:
    base, allowed = site["base"], site["allowed"].endpoint
    kind = "update" if rng.random() < 0.15 else "query"
    text = rng.choice(UPDATES if kind == "update" else SEEDS)
    text = _mutate(rng, text.replace("{base}", base).replace("{allowed}", allowed))
    headers: dict[str, str] = {}
    accept = rng.choice(ACCEPTS)
    if accept is not None:
        headers["Accept"] = accept
    if rng.random() < 0.3:
        headers["Authorization"] = rng.choice(
            [f"Bearer {token(site)}", "Bearer", "Basic !!!", token(site), "Bearer \x7f"])
    if rng.random() < 0.1:
        headers["If-None-Match"] = rng.choice(['W/"x", *', "garbage", '"'])
    path = rng.choice(PATHS)
    method = rng.choice(["GET"] * 5 + ["POST"] * 5 + ["PUT", "DELETE", "PATCH", "HEAD",
                                                      "OPTIONS"])
    params: dict[str, str] = {}
    data: bytes | None = None
    if method == "GET" or rng.random() < 0.2:
        params[kind] = text
        for name in ("default-graph-uri", "named-graph-uri", "format"):
            if rng.random() < 0.1:
                params[name] = rng.choice(["urn:x:g", "not an iri", "<x>", "json", "", "\x00"])
    else:
        headers["Content-Type"] = rng.choice(CONTENT_TYPES)
        data = _body(rng, f"{kind}={requests.utils.quote(text)}"
                     if "form" in headers["Content-Type"] else text)
    return requests.request(method, base + path, params=params, data=data, headers=headers,
                            timeout=60)


def _malformed(response: requests.Response) -> bool:
    """A request the HTTP layer (granian) refuses before the application sees it: a header
    with a control character gets an empty 400 that closes the connection (docs/server.md)."""
    sent = response.request.headers.values()
    return (response.status_code == 400 and "Content-Type" not in response.headers
            and any(ord(c) < 32 or ord(c) == 127 for value in sent for c in value))


def test_fuzzing_finds_no_server_error(site):
    rng = random.Random(13)
    seen: dict[int, int] = {}
    for number in range(300):
        response = _request(rng, site)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        described = f"request {number}: {response.request.method} {response.request.url[:300]}"
        assert response.status_code != 500 and response.status_code < 600, \
            f"{described} -> {response.status_code} {response.text[:500]}"
        assert "Traceback" not in response.text and 'File "' not in response.text, described
        if response.status_code >= 400:
            assert "text/html" not in response.headers.get("Content-Type", ""), described
            if response.request.method != "HEAD" and not _malformed(response):
                assert response.text.strip(), described
    assert len(seen) > 5, seen  # the run reached many different answers


def test_admin_required_guards_any_route(tmp_path):
    """The decorator future write routes (submission, Graph Store) use; Flask's test client
    suffices here, the live server above covers the same checks over HTTP."""
    from flask import Flask

    from fairtracks_ld.web.auth import admin_required
    from fairtracks_ld.web.settings import Settings

    app = Flask(__name__)
    app.config["SETTINGS"] = Settings(store=tmp_path, admin_token="secret", admin_token_file=None)

    @app.route("/write", methods=["POST"])
    @admin_required
    def write():
        return "written"

    client = app.test_client()
    assert client.post("/write").status_code == 401
    assert client.post("/write", headers={"Authorization": "secret"}).status_code == 401
    assert client.post("/write", headers={"Authorization": "Bearer secret"}).data == b"written"
    app.config["SETTINGS"] = Settings(store=tmp_path, admin_token=None, admin_token_file=None)
    assert client.post("/write", headers={"Authorization": "Bearer secret"}).status_code == 403
