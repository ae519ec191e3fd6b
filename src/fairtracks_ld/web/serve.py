"""Run the server: granian worker processes reading the published snapshot (see httpd).

A thread waiting for a query or validation worker blocks only itself. Each process gets a thread
for every query and validation admission control can let in (running, waiting for a worker, or
queued over a client's share; see admission) plus CHEAP_THREADS more, so dereferencing, search
and static pages always find a free thread however many heavy requests are in flight.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path

from fairtracks_ld.store.snapshots import current_snapshot, publish
from fairtracks_ld.web.settings import Settings
from fairtracks_ld.writer_lock import StoreLocked, writer_lock
from fairtracks_ld.writing import open_store

CHEAP_THREADS = 4  # threads per process left for requests that never wait for a query worker


def serve(store: Path, host: str, port: int, base_iri: str | None, workers: int = 2,
          threads: int | None = None, extra_env: dict[str, str] | None = None,
          access_log: str | None = None, backend: str | None = None,
          log: str | None = None, segments: Path | None = None) -> None:
    """Publish a snapshot if none exists (with a `backend`: check that it answers, and use
    `segments` as the folder its worker processes share the facet index's segments in, kept
    across restarts, or else make one removed when the server stops), then replace this
    process with the HTTP server (httpd).

    `access_log`: a file, or "-" for stdout; none by default, since writing a line per request
    costs CPU on every request; `log`: the server's log (startup, writes, unexpected errors),
    a file, by default stdout."""
    temporary = None
    if backend:
        _check_backend(backend, base_iri)
        if segments is None:
            temporary = tempfile.mkdtemp(prefix="fairtracks-ld-replica-segments-")  # 0700, new
        else:
            private_folder(segments)
        extra_env = dict(extra_env or {}, FAIRTRACKS_LD_BACKEND=backend,
                         FAIRTRACKS_LD_BACKEND_BASE=base_iri or "",
                         FAIRTRACKS_LD_BACKEND_SEGMENTS=temporary or str(segments))
    elif current_snapshot(store) is None or base_iri:
        _publish_first(store, base_iri)
    env = dict(os.environ, FAIRTRACKS_LD_STORE=str(store), **(extra_env or {}))
    if threads is None:
        os.environ.update(env)  # this process becomes the server: its settings are these
        threads = threads_for(Settings())
    print(f"fairtracks-ld serving {backend or store} at http://{host}:{port}/", flush=True)
    options = {"host": host, "port": port, "workers": workers, "threads": threads,
               "log": log, "access_log": access_log, "remove_at_exit": temporary}
    os.execve(sys.executable, [sys.executable, "-m", "fairtracks_ld.web.httpd",
                               json.dumps(options)], env)


def threads_for(settings: Settings) -> int:
    """Threads per server process: one for every request admission control may hold (see the
    module's docstring) plus CHEAP_THREADS."""
    return (settings.query_workers + settings.query_queue + settings.query_excess
            + settings.validate_workers + settings.validate_queue + settings.validate_excess
            + CHEAP_THREADS)


def _publish_first(store: Path, base_iri: str | None) -> None:
    """Publish a snapshot to serve (under the writer lock). A store being written, or one on a
    read-only disk, is served from the snapshot it already has; so is one a big load's
    background compaction holds (store/optimizer.py), which it lets finish and publish."""
    try:
        with writer_lock(store, preempt=False):
            writable = open_store(store, base=base_iri)
            publish(writable)
            del writable
    except (StoreLocked, PermissionError, OSError):
        if current_snapshot(store) is None:
            raise


class BackendUnreachable(RuntimeError):
    """`serve --backend` names an endpoint that does not answer."""


class UnsafeFolder(RuntimeError):
    """`serve --segments` names a folder other users could write (or that is not a folder)."""


def private_folder(folder: Path) -> None:
    """Make `folder` (mode 0700) if missing, else check that only this user can write it: the
    search page trusts the segments found there (they hold no code, no pickles, but a segment
    written by someone else would show wrong tracks and counts)."""
    try:
        if not folder.exists() and not folder.is_symlink():
            folder.mkdir(mode=0o700, parents=True)
        found = folder.lstat()
    except OSError as failure:
        raise UnsafeFolder(f"cannot use {folder} for segments: {failure.strerror}") from None
    if not stat.S_ISDIR(found.st_mode):
        raise UnsafeFolder(f"cannot use {folder} for segments: not a folder (or a symbolic "
                           "link)")
    if found.st_uid != os.getuid():
        raise UnsafeFolder(f"cannot use {folder} for segments: it belongs to another user")
    if found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeFolder(f"cannot use {folder} for segments: others can write it (chmod "
                           "go-w, or 700)")


def _check_backend(url: str, base_iri: str | None) -> None:
    """Refuse to start when the backend does not answer a trivial query (one clear line)."""
    from fairtracks_ld.web.backend.endpoint import Endpoint

    reason = Endpoint(url, timeout=10).reachable()
    if reason is not None:
        raise BackendUnreachable(f"cannot serve from {url}: {reason}")
