"""Defence in depth for query workers: a process that evaluates queries with no network at all.

With an empty SERVICE allow-list, no query needs the network, so the worker processes move into
their own network namespace (`unshare(CLONE_NEWNET)`, Linux): it has only a loopback interface,
and that is down, so even a query that got past the SERVICE policy could connect to nothing, not
even this host's loopback services. Creating the namespace needs CAP_SYS_ADMIN (root, or a user
namespace); where the kernel refuses, the caller logs why and the policy remains the only guard.
"""

from __future__ import annotations

import ctypes
import os
import queue
import threading
from typing import Any

CLONE_NEWNET = 0x40000000


def drop_network() -> str | None:
    """Move this process into a new, empty network namespace; None when done, else why not."""
    try:
        unshare = ctypes.CDLL(None, use_errno=True).unshare
    except (OSError, AttributeError):
        return "this system has no unshare()"
    if unshare(CLONE_NEWNET) != 0:
        return f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}"
    return None


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have the kernel kill this process when the server process that started it dies.

    A query or update worker blocked in a long evaluation never reads its pipe, so without this
    it would run on, orphaned, after its server process exits (seen: 46 minutes of CPU).
    Best effort: systems without prctl() keep the old behaviour."""
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


class _Starter:
    """One long-lived thread that starts every worker process of this server process.

    The kernel's parent-death signal (die_with_parent) follows the *thread* that started a
    process, not the process: a worker started from a request thread would be killed when that
    thread ends, and granian ends idle request threads. This thread lives as long as the process."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Any, threading.Event, list[BaseException]]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, process: Any) -> None:
        """`process.start()`, run in the starter thread; its exception is raised here."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="worker-starter",
                                                daemon=True)
                self._thread.start()
        done, failed = threading.Event(), []
        self._jobs.put((process, done, failed))
        done.wait()
        if failed:
            raise failed[0]

    def _run(self) -> None:
        while True:
            process, done, failed = self._jobs.get()
            try:
                process.start()
            except BaseException as error:  # handed to the caller
                failed.append(error)
            finally:
                done.set()


start_process = _Starter().start
