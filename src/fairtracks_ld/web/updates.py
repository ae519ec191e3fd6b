"""SPARQL Update in a killable process, so an update has a time limit like a query.

pyoxigraph cannot interrupt an update either. Each server process starts one update worker
process on its first update and sends it every update; the worker opens the primary store,
applies the update (one transaction), records the change in the catalog, says so, then publishes
a snapshot. If the update has not been applied `timeout` seconds after it arrived, the worker is
killed, before it committed anything: the store is unchanged and the client gets 503. Once
applied, the (short) publishing is waited for.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fairtracks_ld.web.executor import QueryError
from fairtracks_ld.web.isolation import start_process
from fairtracks_ld.writer_lock import StoreLocked, writer_lock

WRITER_WAIT = 10.0  # seconds an update waits for another writer (within its own time limit)


def _apply(store_path: str, update: str, base_iri: str) -> tuple[tuple[Any, ...], Any]:
    """Run one update on the primary store: (("applied",), the open store to publish) or
    (("error", status, message), None)."""
    import pyoxigraph as ox

    from fairtracks_ld.mapping.namespaces import PREFIXES
    from fairtracks_ld.sparql.policy import mentions_network
    from fairtracks_ld.writing import open_store

    try:
        store = open_store(Path(store_path))
    except OSError as failure:
        return ("error", 503, f"the store is busy (another process is writing): {failure}"), None
    try:
        store.ox.update(update, prefixes=PREFIXES, base_iri=base_iri)
    except SyntaxError as failure:
        return ("error", 400, f"SPARQL syntax error: {failure}"), None
    except RuntimeError as failure:  # Oxigraph's refusals: graph exists, graph missing, ...
        return ("error", 400, f"the update failed: {failure}"), None
    except OSError as failure:
        if not mentions_network(update):
            raise
        return ("error", 502, f"LOAD or SERVICE failed: {failure}"), None
    base, catalog = store.base, store.catalog
    if not store.ox.contains_named_graph(ox.NamedNode(catalog)):  # e.g. after DROP ALL
        store.ox.update(f"INSERT DATA {{ GRAPH <{catalog}> {{ <{catalog}> a ft:Catalog ; "
                        f"ft:base_iri <{base}> }} }}", prefixes=PREFIXES)
    store.mark_modified()  # any graph may have changed: mirrors of the store start afresh
    return ("applied",), store


def _worker(conn: Connection, store_path: str, isolate: bool) -> None:
    """Apply updates from the pipe, each answered ("applied",) then ("done",), or an error."""
    from fairtracks_ld.web.isolation import die_with_parent

    die_with_parent()
    if isolate:
        from fairtracks_ld.web.isolation import drop_network

        drop_network()  # best effort: the SERVICE/LOAD policy already refused the rest
    while True:
        update, base_iri = conn.recv()
        try:  # the writer lock is held until the snapshot is published (a kill releases it)
            # a short wait: the writer before may still be closing (its client already has 204)
            with writer_lock(store_path, command="SPARQL Update (server)", wait=WRITER_WAIT):
                _apply_and_publish(conn, store_path, update, base_iri)
        except StoreLocked as failure:
            conn.send(("error", 503, str(failure)))


def _apply_and_publish(conn: Connection, store_path: str, update: str, base_iri: str) -> None:
    """Apply one update and answer ("applied",) then ("done",) once published, or an error."""
    from fairtracks_ld.store.snapshots import publish

    store = None
    try:
        outcome, store = _apply(store_path, update, base_iri)
    except Exception as failure:  # reported to the server; this process lives on
        outcome = ("error", 500, f"{type(failure).__name__}: {failure}")
    conn.send(outcome)
    if store is not None:
        publish(store)
        del store  # closes the primary store for the next writer
        conn.send(("done",))


class UpdateRunner:
    """One update worker per server process, started on first use, replaced when killed."""

    def __init__(self, store_path: Path, timeout: float, isolate_network: bool) -> None:
        self.store_path = str(store_path)
        self.timeout = timeout
        self.isolate_network = isolate_network
        self._context = mp.get_context("spawn")  # never fork a process holding RocksDB handles
        self._worker: tuple[Any, Connection] | None = None
        self._lock = threading.Lock()  # one update at a time per process

    def _started(self) -> tuple[Any, Connection]:
        if self._worker is None or not self._worker[0].is_alive():
            parent, child = self._context.Pipe()
            process = self._context.Process(
                target=_worker, args=(child, self.store_path, self.isolate_network), daemon=True)
            start_process(process)
            self._worker = (process, parent)
        return self._worker

    def run(self, update: str, base_iri: str, arrived: float) -> None:
        """Apply the update and publish a snapshot, or raise QueryError (the store unchanged)."""
        deadline = arrived + self.timeout
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise QueryError(503, "the server is busy with other updates; try again later", 5)
        try:
            process, conn = self._started()
            conn.send((update, base_iri))
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                process.kill()
                process.join()
                self._worker = None
                raise QueryError(503, f"the update ran longer than the server's limit of "
                                      f"{self.timeout:g} s (counted from its arrival) and was "
                                      "stopped; nothing was written")
            outcome = conn.recv()
            if outcome[0] == "error":
                raise QueryError(outcome[1], outcome[2], 5 if outcome[1] == 503 else None)
            conn.recv()  # ("done",): the snapshot is published
        except (EOFError, OSError) as failure:
            self._worker = None
            raise QueryError(500, f"the update worker failed: {failure}") from failure
        finally:
            self._lock.release()

    def close(self) -> None:
        if self._worker is not None:
            self._worker[0].kill()
