"""Admission control in front of a process's query workers: a bounded queue and a per-client cap.

Each gunicorn worker process holds its own query workers (see executor). A SPARQL query that needs
one is admitted only while fewer than `slots + waiting` queries are admitted in this process (the
rest are answered 503 at once, with `Retry-After`), and only while its client holds fewer than
`per_client` of them (else 429): one client cannot hold every slot, and a full queue is said at
once instead of after the time limit. The limits are per process, so server-wide they are
multiplied by the number of gunicorn workers.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class Refused(Exception):
    """A query not admitted: `status` 429 or 503, `retry_after` seconds."""

    def __init__(self, status: int, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class Admission:
    """Counts the queries admitted to one process's query workers, per client and in all."""

    def __init__(self, slots: int, waiting: int, per_client: int, limit_seconds: float) -> None:
        self.slots = slots
        self.capacity = slots + waiting
        self.per_client = per_client
        self.limit_seconds = limit_seconds
        self.typical_seconds = 1.0  # moving average of recent run times, for Retry-After
        self._admitted = 0
        self._by_client: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _retry_after(self, queued: int) -> int:
        """Seconds until a slot is likely free: the queries ahead, at the typical run time."""
        estimate = self.typical_seconds * max(1, queued) / self.slots
        return max(1, min(math.ceil(estimate), math.ceil(self.limit_seconds)))

    @contextmanager
    def admit(self, client: str) -> Iterator[None]:
        """Hold one place for `client` while the block runs, or raise Refused at once."""
        with self._lock:
            if self._by_client[client] >= self.per_client:
                raise Refused(429, f"too many queries from {client} at once: at most "
                                   f"{self.per_client} may run or wait at a time; wait for one "
                                   "to finish", self._retry_after(1))
            if self._admitted >= self.capacity:
                raise Refused(503, f"the server is busy: {self._admitted} queries are running "
                                   "or waiting for a query worker and the queue is full; try "
                                   "again later", self._retry_after(self._admitted))
            self._admitted += 1
            self._by_client[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1
                self._by_client[client] -= 1
                if not self._by_client[client]:
                    del self._by_client[client]

    def ran(self, seconds: float) -> None:
        """Record a query's run time (for the Retry-After estimate)."""
        self.typical_seconds = 0.8 * self.typical_seconds + 0.2 * seconds
