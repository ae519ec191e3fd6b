"""gunicorn's gthread worker, with gunicorn's own refusals in plain text instead of HTML.

gunicorn answers some requests before the application sees them: 414 for a request line longer
than `--limit-request-line` (4094 bytes by default), 431 for too many or too large headers, 400
for a request it cannot parse. Its `util.write_error` writes those as small HTML pages; this
worker (`--worker-class fairtracks_ld.web.worker.TextErrorWorker`) replaces that function, in
its own process only, with one writing `text/plain`, like every other error of this server.
"""

from __future__ import annotations

import socket

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker


def write_text_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, in plain text."""
    body = f"{status_int} {reason}" + (f": {mesg}" if mesg else "") + "\n"
    data = body.encode("latin-1", "replace")
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: text/plain; charset=latin-1\r\nContent-Length: {len(data)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1", "replace") + data)


class TextErrorWorker(ThreadWorker):
    """The gthread worker; importing this module switches gunicorn's error pages to text."""


util.write_error = write_text_error
