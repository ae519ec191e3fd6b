"""Admission control in front of a process's worker processes (query workers, validation
workers): a bounded queue, a per-client share, and a per-client queue for a client's excess.

Each server worker process holds its own workers (see executor, validation_pool). A request
that needs one is admitted at once while its client holds fewer than `per_client` places and
fewer than `slots + waiting` requests are admitted in this process; when the queue is full it is
answered 503 at once, with `Retry-After`.

A client's requests beyond its share are not refused but queued, in the client's own queue
(at most `client_queue` requests, and at most `excess` over all clients of the process), until
one of its places frees *and* a worker is idle with nobody else waiting for it: a client with a
queue never delays another client's first requests, which go through the shared queue ahead of
any excess. Among clients with queued requests, the one holding the fewest places goes first
(then the one served longest ago), so queues drain in turn. A client's request is answered 429
only when its queue is full or its estimated wait would pass the time limit; one still queued
when the time limit (counted from arrival) is up is answered 503. The limits are per process, so
server-wide they are multiplied by the number of server worker processes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class Refused(Exception):
    """A request not admitted: `status` 429 or 503, `retry_after` seconds."""

    def __init__(self, status: int, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(eq=False)
class _Queued:
    """One of a client's requests waiting for its share to free."""

    arrived: float = field(default_factory=time.monotonic)


class Admission:
    """Counts the requests admitted to one process's workers, per client and in all, and
    queues each client's excess."""

    def __init__(self, slots: int, waiting: int, per_client: int, limit_seconds: float,
                 client_queue: int = 4, excess: int = 8, kind: str = "queries",
                 worker: str = "query worker") -> None:
        """`kind` and `worker` name what is admitted in messages ("queries", "query worker")."""
        self.slots = slots
        self.capacity = slots + waiting
        self.per_client = per_client
        self.client_queue = client_queue
        self.excess = excess
        self.limit_seconds = limit_seconds
        self.kind = kind
        self.worker = worker
        self.typical_seconds = 1.0  # moving average of recent run times, for Retry-After
        self._admitted = 0
        self._queued = 0
        self._by_client: Counter[str] = Counter()
        self._queues: dict[str, deque[_Queued]] = {}
        self._last: dict[str, float] = {}  # when each active client last took a place
        self._changed = threading.Condition()

    def _retry_after(self, queued: int) -> int:
        """Seconds until a slot is likely free: the requests ahead, at the typical run time."""
        estimate = self.typical_seconds * max(1, queued) / self.slots
        return max(1, min(math.ceil(estimate), math.ceil(self.limit_seconds)))

    @contextmanager
    def admit(self, client: str, deadline: float | None = None) -> Iterator[None]:
        """Hold one place for `client` while the block runs: at once, or after waiting in the
        client's queue until `deadline` (a monotonic time; default: the time limit from now);
        raise Refused when it cannot be had."""
        if deadline is None:
            deadline = time.monotonic() + self.limit_seconds
        with self._changed:
            if self._by_client[client] < self.per_client and client not in self._queues:
                if self._admitted >= self.capacity:
                    raise Refused(503, f"the server is busy: {self._admitted} {self.kind} are "
                                       f"running or waiting for a {self.worker} and the queue "
                                       "is full; try again later",
                                  self._retry_after(self._admitted))
            else:
                self._wait_in_queue(client, deadline)
            self._admitted += 1
            self._by_client[client] += 1
            self._last[client] = time.monotonic()
        try:
            yield
        finally:
            with self._changed:
                self._admitted -= 1
                self._by_client[client] -= 1
                if not self._by_client[client]:
                    del self._by_client[client]
                    if client not in self._queues:
                        del self._last[client]
                self._changed.notify_all()

    def _wait_in_queue(self, client: str, deadline: float) -> None:
        """Queue `client`'s excess request until it may take a place (lock held)."""
        queue = self._queues.get(client, deque())
        ahead = len(queue) + self._by_client[client]
        if len(queue) >= self.client_queue:
            raise Refused(429, f"too many {self.kind} from {client} at once: "
                               f"{self._by_client[client]} running or waiting and "
                               f"{len(queue)} queued, the most this server queues for one "
                               "client; wait for one to finish", self._retry_after(ahead))
        wait = self.typical_seconds * ahead / min(self.per_client, self.slots)
        if wait > deadline - time.monotonic():
            raise Refused(429, f"too many {self.kind} from {client} at once: with "
                               f"{ahead} ahead of this one, it would wait about {wait:.0f} s, "
                               f"past the time limit of {self.limit_seconds:g} s; wait for one "
                               "to finish", self._retry_after(ahead))
        if self._queued >= self.excess:
            raise Refused(503, f"the server is busy: {self._queued} {self.kind} of clients "
                               "over their share are queued and the queue is full; try again "
                               "later", self._retry_after(self._admitted + self._queued))
        ticket = _Queued()
        queue.append(ticket)
        self._queues[client] = queue
        self._queued += 1
        try:
            while not (queue[0] is ticket and self._next() == client):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Refused(503, f"the server is busy: this request waited in "
                                       f"{client}'s queue for the whole time limit of "
                                       f"{self.limit_seconds:g} s (counted from its arrival); "
                                       "try again later", self._retry_after(ahead))
                self._changed.wait(remaining)
        finally:
            queue.remove(ticket)
            self._queued -= 1
            if not queue:
                del self._queues[client]
            self._changed.notify_all()

    def _next(self) -> str | None:
        """The client whose queued request may take a place now: a worker is idle with nobody
        else waiting for one, and of the clients under their share, it holds the fewest places,
        then took its last place longest ago (round robin), then its request waited longest."""
        if self._admitted >= self.slots:
            return None
        ready = [(self._by_client[c], self._last.get(c, 0.0), q[0].arrived, c)
                 for c, q in self._queues.items() if self._by_client[c] < self.per_client]
        return min(ready)[3] if ready else None

    def ran(self, seconds: float) -> None:
        """Record a request's run time (for the Retry-After and wait estimates)."""
        self.typical_seconds = 0.8 * self.typical_seconds + 0.2 * seconds
