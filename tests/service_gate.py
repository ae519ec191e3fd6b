"""A SPARQL endpoint on loopback that holds each request until the test lets it through.

A query calling it with SERVICE holds its query worker for exactly as long as the test wants,
without using the CPU: scheduling tests then depend on the order of events, not on how fast a
cross join runs on a busy machine (a query worker at nice 19 behind other work took over a
minute for a second's work). Each query names itself with a tag, `<urn:gate:NAME>`, so the gate
also records the order in which queries reached a worker.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_plus

HOLD_SECONDS = 120  # a request nobody released is answered anyway, so no test hangs on it
_TAG = re.compile(r"urn:gate:(\w+)")


class Gate(ThreadingHTTPServer):
    """The endpoint: `reached` lists the tags of the requests that arrived, in order;
    `release(tag)` lets that request's answer go (`release_all()` every one, now and later)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.reached: list[str] = []
        self._changed = threading.Condition()
        self._released: set[str] = set()
        self._open = False
        super().__init__(("127.0.0.1", 0), _Held)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sparql"

    def query(self, tag: str) -> str:
        """A query whose worker waits here until `tag` is released."""
        return f"SELECT * WHERE {{ SERVICE <{self.endpoint}> {{ ?s <urn:gate:{tag}> ?o }} }}"

    def wait_for(self, count: int, seconds: float = 60) -> list[str]:
        """The tags of the first `count` requests, once they have arrived."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.reached) >= count, seconds), \
                f"only {self.reached} reached the gate"
            return self.reached[:count]

    def reset(self) -> None:
        """Forget what reached the gate and hold every request again (between tests)."""
        with self._changed:
            self.reached.clear()
            self._released.clear()
            self._open = False

    def release(self, tag: str) -> None:
        with self._changed:
            self._released.add(tag)
            self._changed.notify_all()

    def release_all(self) -> None:
        with self._changed:
            self._open = True
            self._changed.notify_all()

    def handle_error(self, request, client_address) -> None:
        """A worker killed at its time limit left while held: nothing to answer."""

    def hold(self, tag: str) -> None:
        """Record `tag` and wait until it is released."""
        with self._changed:
            self.reached.append(tag)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._open or tag in self._released, HOLD_SECONDS)


class _Held(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        tag = _TAG.search(unquote_plus(f"{self.path} {body}"))  # a GET, a form or a bare query
        self.server.hold(tag.group(1) if tag else "")
        answer = b'{"head":{"vars":["s","o"]},"results":{"bindings":[{}]}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass
