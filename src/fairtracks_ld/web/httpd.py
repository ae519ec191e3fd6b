"""The HTTP server process: granian (a Rust HTTP server) running the WSGI app in worker processes.

`fairtracks-ld serve` replaces itself with `python -m fairtracks_ld.web.httpd OPTIONS_JSON`.
This module is the process's `__main__` on purpose: the query, update and validation workers
are started with multiprocessing's "spawn", whose children import the parent's main module as
`__mp_main__`; granian's own `__main__` would start a second server in each of them, this one
does nothing on import.

granian's main process binds the socket and forks the workers before anything of the
application is imported (each worker imports `fairtracks_ld.web.wsgi`, which opens its own
snapshot reader and starts its own query workers), so no RocksDB handle or thread crosses a
fork. Each worker runs the application in `threads` Python threads ("blocking threads"), so a
request waiting for a query or validation worker blocks only its thread.

HTTP/1.1 only. granian answers a few requests before the application sees them, with an empty
body: 414 for a request line over 64 KB (the application refuses lines over
front.MAX_REQUEST_TARGET itself, in plain text), 431 for more than 100 header fields or headers
over `http1_buffer_size`, 400 for a request it cannot parse.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from typing import Any

LOG_FORMAT = "%(asctime)s [%(levelname)s] %(message)s"
ACCESS_FORMAT = '%(addr)s [%(time)s] "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1f ms'
SHUTDOWN_SECONDS = 20  # a worker still busy this long after SIGTERM is killed


class ThreadCountNotice(logging.Filter):
    """Drops granian's warning that the blocking threads outnumber the cores: they are meant
    to (most of them wait for a query or validation worker, not for the interpreter), and a
    warning at every start would teach users to ignore the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Python threads, which seems quite high" not in record.getMessage()


def log_config(log: str | None, access_log: str | None) -> dict[str, Any]:
    """logging.dictConfig for granian's processes: the server log (granian's messages and the
    package's: writes, unexpected errors) to `log` (a file; default stdout) and the access log
    to `access_log` ("-": stdout)."""
    def handler(target: str | None, formatter: str) -> dict[str, Any]:
        if target and target != "-":
            return {"class": "logging.FileHandler", "filename": target, "formatter": formatter}
        return {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                "formatter": formatter}

    return {
        "formatters": {
            "server": {"format": LOG_FORMAT},
            "access": {"format": "%(message)s"},
        },
        "filters": {"thread_count": {"()": ThreadCountNotice}},
        "handlers": {"server": handler(log, "server"), "access": handler(access_log, "access")},
        "loggers": {
            "_granian": {"handlers": ["server"], "level": "INFO", "propagate": False,
                         "filters": ["thread_count"]},
            "fairtracks_ld": {"handlers": ["server"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def run(host: str, port: int, workers: int, threads: int, log: str | None = None,
        access_log: str | None = None, remove_at_exit: str | None = None) -> None:
    """Serve `fairtracks_ld.web.wsgi:app` until SIGTERM / SIGINT, then remove the folder
    `serve` made for the workers (`remove_at_exit`: a backend replica's shared segments)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    try:
        Granian(
            "fairtracks_ld.web.wsgi:app", address=host, port=port, interface=Interfaces.WSGI,
            workers=workers, blocking_threads=threads, http=HTTPModes.http1, websockets=False,
            log_dictconfig=log_config(log, access_log), log_access=bool(access_log),
            log_access_format=ACCESS_FORMAT, respawn_failed_workers=True,
            workers_kill_timeout=SHUTDOWN_SECONDS,
        ).serve()
    finally:
        if remove_at_exit:
            shutil.rmtree(remove_at_exit, ignore_errors=True)


if __name__ == "__main__":
    run(**json.loads(sys.argv[1]))
