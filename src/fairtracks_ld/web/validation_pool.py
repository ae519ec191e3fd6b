"""Validation in worker processes: the validation service never runs on the server's threads.

Validating a large document costs seconds of CPU (mapping, SHACL, the answer). Run on a server
thread it would hold the interpreter lock and the server's CPU share while dereferencing and
search wait. So each server process keeps a small pool of validation worker processes (started
on the first validation, then kept), behind their own admission control (see admission): at most
`workers` validations run and `waiting` wait for a worker, a client's excess is queued in its
own bounded queue, and past that the answer is 503 or 429 with `Retry-After` at once, never a
stalled server thread. A worker holds its own snapshot reader and `Validator` (shapes compiled
and ontologies opened once, then reused), runs at a lower CPU priority (nice), and is killed and
replaced when a validation runs past the time limit (counted from arrival) or its resident
memory passes `max_memory`; the request is then answered 503 or 413 saying so.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing as mp
import os
import queue
import threading
import time
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fairtracks_ld.web.admission import Admission, Refused
from fairtracks_ld.web.isolation import start_process
from fairtracks_ld.web.validation_work import Job, Rendered

POLL_SECONDS = 0.1  # how often a waiting thread looks at the worker's memory
_PAGE = os.sysconf("SC_PAGE_SIZE")


class ValidationRefused(Exception):
    """A validation not done: `status` (413, 429, 503), a message, `retry_after` seconds."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def _worker(conn: Connection, store_path: str, niceness: int) -> None:
    """Validate jobs from the pipe, with one Validator per snapshot; warm up first."""
    from fairtracks_ld.store.snapshots import SnapshotReader
    from fairtracks_ld.validation import Validator
    from fairtracks_ld.validation.context import prepare
    from fairtracks_ld.web import validation_work
    from fairtracks_ld.web.isolation import die_with_parent

    die_with_parent()
    with suppress(OSError):
        os.nice(niceness)
    reader = SnapshotReader(Path(store_path))
    cached: tuple[Any, Validator] | None = None

    def checker() -> Validator:
        nonlocal cached
        store = reader.store()
        if cached is None or cached[0] is not store:
            gc.unfreeze()  # the last snapshot's objects may be garbage now (see _give_back_memory)
            cached = (store, Validator(store))
            try:  # a snapshot's ontologies, read once for its documents
                prepare(cached[1].ontologies)
            except Exception:  # then each document reads what it needs, as the CLI does
                logging.getLogger(__name__).exception("preparing the snapshot's ontologies")
        return cached[1]

    with suppress(Exception):  # compile the shapes and open the ontologies before any job
        _warm_up(checker())
    _give_back_memory()
    while True:
        job = conn.recv()
        leftovers: list[Any] = []  # freed once the answer is on its way
        try:
            conn.send(validation_work.run(job, checker(), leftovers))
        except Exception:  # a bug: logged, answered, and the worker lives on
            logging.getLogger(__name__).exception("validation worker")
            conn.send(validation_work.json_answer(validation_work.fatal(
                "the validator failed on this request (logged on the server)"), 500))
        del job, leftovers
        _give_back_memory()


def _give_back_memory() -> None:
    """Return the freed heap to the system: glibc keeps it otherwise, and a worker that once
    validated 10k tracks would stay at twice its warm size (and nearer the memory bound).

    What is still alive after a job (the snapshot's shapes, ontologies and the facts kept for
    the next documents: a quarter of a million objects) is then frozen: the next job's
    collection walks only what that job made (0.16 s less CPU per job). A new snapshot
    unfreezes it all, so that the old snapshot's cycles are collected."""
    gc.collect()
    gc.freeze()
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _warm_up(checker: Any) -> None:
    """Validate the shipped v1-current example once: the first real request then pays only
    for its own documents."""
    import json

    from fairtracks_ld.standard import example_documents

    path = example_documents().get("v1-current")
    if path is not None:
        checker.document(json.loads(path.read_text(encoding="utf-8")), "(warm-up)")


def resident_bytes(pid: int) -> int:
    """A process's resident memory (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class ValidationPool:
    """A process's validation workers behind admission control."""

    def __init__(self, store_path: Path, workers: int = 1, waiting: int = 2,
                 per_client: int = 1, client_queue: int = 2, excess: int = 4,
                 timeout: float = 60.0, max_memory: int = 2 * 1024**3,
                 niceness: int = 10) -> None:
        self.store_path = str(store_path)
        self.workers = workers
        self.timeout = timeout
        self.max_memory = max_memory
        self.niceness = niceness
        self.admission = Admission(workers, waiting, per_client, timeout, client_queue, excess,
                                   kind="validations", worker="validation worker")
        self._context = mp.get_context("spawn")  # never fork a process holding RocksDB handles
        self._idle: queue.Queue[tuple[Any, Connection]] = queue.Queue()
        self._started = False
        self._lock = threading.Lock()

    def _start(self) -> tuple[Any, Connection]:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker,
                                        args=(child, self.store_path, self.niceness),
                                        daemon=True)
        start_process(process)
        child.close()
        return process, parent

    def _ensure_started(self) -> None:
        with self._lock:
            if not self._started:
                for _ in range(self.workers):
                    self._idle.put(self._start())
                self._started = True

    def run(self, job: Job, client: str, arrived: float) -> Rendered:
        """The answer to `job`, or ValidationRefused (429/503 not admitted or over the time
        limit counted from `arrived`, 413 over the memory bound)."""
        deadline = arrived + self.timeout
        try:
            with self.admission.admit(client, deadline):
                self._ensure_started()
                return self._run(job, deadline)
        except Refused as refused:
            raise ValidationRefused(refused.status, refused.message,
                                    refused.retry_after) from None

    def _run(self, job: Job, deadline: float) -> Rendered:
        try:
            process, conn = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ValidationRefused(
                503, f"the server is busy: no validation worker became free within the time "
                     f"limit of {self.timeout:g} s; try again later",
                max(1, round(self.admission.typical_seconds))) from None
        started = time.monotonic()
        try:
            conn.send(job)
            overrun = self._wait(process, conn, deadline)
            if overrun is not None:
                process.kill()
                process.join()
                process, conn = self._start()
                self.admission.ran(time.monotonic() - started)
                raise overrun
            rendered = conn.recv()
        except (EOFError, OSError) as error:
            process.kill()
            process.join()
            process, conn = self._start()
            raise ValidationRefused(500, f"the validation worker failed: {error}") from error
        finally:
            self._idle.put((process, conn))
        self.admission.ran(time.monotonic() - started)
        return rendered

    def _wait(self, process: Any, conn: Connection,
              deadline: float) -> ValidationRefused | None:
        """Wait for the answer; the refusal to raise when the worker must be stopped first."""
        while not conn.poll(min(POLL_SECONDS, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return ValidationRefused(
                    503, f"the validation ran longer than the server's limit of "
                         f"{self.timeout:g} s (counted from its arrival) and was stopped; "
                         "validate a smaller document, or split it")
            used = resident_bytes(process.pid)
            if used > self.max_memory:
                return ValidationRefused(
                    413, f"the validation needed more than the {self.max_memory // 2**20} MiB "
                         "of memory the server allows one validation and was stopped; "
                         "validate a smaller document, or split it")
        return None

    def close(self) -> None:
        while not self._idle.empty():
            process, _ = self._idle.get()
            process.kill()
