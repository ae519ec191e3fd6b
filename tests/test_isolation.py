"""Worker processes (query, update, validation) die with their server process, not with the
request thread that happened to start them: granian ends idle request threads, and the kernel's
parent-death signal follows the thread that started a process (web/isolation.py)."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

from fairtracks_ld.web.isolation import die_with_parent, start_process


def _worker(ready) -> None:
    die_with_parent()
    ready.set()
    time.sleep(30)


def _started_from_a_thread_that_ends(start) -> mp.Process:
    """A worker started by `start` from a thread that ends once the worker is up (as a request
    thread ends later, idle)."""
    context = mp.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_worker, args=(ready,), daemon=True)

    def request_thread() -> None:
        start(process)
        assert ready.wait(60)

    thread = threading.Thread(target=request_thread)
    thread.start()
    thread.join()
    return process


def _alive_after(process: mp.Process, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.is_alive():
        time.sleep(0.1)
    return process.is_alive()


def test_a_worker_outlives_the_request_thread_that_started_it():
    process = _started_from_a_thread_that_ends(start_process)
    try:
        assert _alive_after(process, 3.0)
    finally:
        process.kill()


def test_without_the_starter_thread_the_worker_would_die_with_that_thread():
    process = _started_from_a_thread_that_ends(lambda p: p.start())
    try:
        assert not _alive_after(process, 5.0)
    finally:
        process.kill()
