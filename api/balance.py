"""gunicorn gthread workers that share keep-alive connections evenly
(``STREAMREC_API_BALANCE_CONNECTIONS``, on by default).

gunicorn leaves it to the kernel which worker accepts a connection (its maintainers call an
uneven spread expected: benoitc/gunicorn#2817, #3071), and a keep-alive connection stays with
the worker that accepted it. Clients that keep a pool of connections (a front-end's HTTP
client, a proxy, the benchmark's load generator) can so end up mostly on one worker: on this
project's 2-core machine 32 connections opened at once split 32/0, 9/23, 12/20, 13/19, 12/20
and 15/17 in six tries, and at 1,500 req/s the 32/0 split answered 943 req/s (one worker's
worth, p99 3.5 s) and 9/23 1,353 req/s (p99 0.65 s), while the other CPU idled. With the
workers pinned to a CPU each (``api.affinity``), nothing else can even it out.

Here the workers take turns instead. Each keeps its number of open connections on a board in
shared memory (created in the master, inherited by every worker). When a connection is waiting,
a worker accepts it unless another live worker holds fewer connections; otherwise it stops
watching the listening socket for ``STEP_ASIDE_SECONDS`` so that the less loaded worker takes
it. A worker that has kept stepping aside for ``PATIENCE_SECONDS`` (the other worker is
stuck, stopped or slow to notice) accepts the next connection anyway: balance never keeps a
client waiting longer than about that. A stopping worker withdraws from the board. The same six
tries gave 16/16 each time. A worker also reports its connections as the gauge
``streamrec_http_open_connections`` (per worker pid) on ``/metrics``.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from api.metrics import get_metrics

SLOTS = 128  # workers on the board at once (settings allow 64, plus replacements of dead ones)
STEP_ASIDE_SECONDS = 0.0005  # how long a worker with more connections leaves the listener alone
PATIENCE_SECONDS = 0.05  # a worker stepping aside this long accepts the next connection anyway
STOPPING = 2**62  # the count a stopping worker shows: nobody steps aside for it


class Board:
    """Open connections per worker: a (pid, count) pair per slot in an anonymous shared map.

    Created before the fork, so that the master's workers all see the same memory. A slot with
    pid 0 is free; a worker frees its slot when it exits, and a slot of a process that no
    longer exists (killed outright) is taken over by the next worker that starts.
    """

    def __init__(self, slots: int = SLOTS) -> None:
        self._memory = mmap.mmap(-1, slots * 2 * 8)
        self._cells = memoryview(self._memory).cast("q")
        self._slots = slots
        self._lock = multiprocessing.Lock()  # only for claiming and freeing slots

    def claim(self, pid: int) -> int | None:
        """Give ``pid`` a free slot with no connections; None if every slot is taken."""
        with self._lock:
            for slot in range(self._slots):
                owner = self._cells[2 * slot]
                if owner <= 0 or not _alive(owner):
                    self._cells[2 * slot], self._cells[2 * slot + 1] = pid, 0
                    return slot
        return None

    def release(self, slot: int, pid: int) -> None:
        """Free ``slot`` if ``pid`` still holds it."""
        with self._lock:
            if self._cells[2 * slot] == pid:
                self._cells[2 * slot], self._cells[2 * slot + 1] = 0, 0

    def publish(self, slot: int, connections: int) -> None:
        """Set the number of open connections of the worker in ``slot``."""
        self._cells[2 * slot + 1] = connections

    def fewer_elsewhere(self, slot: int, connections: int) -> bool:
        """Tell whether a live worker other than ``slot``'s holds fewer than ``connections``."""
        cells = self._cells
        for other in range(self._slots):
            owner = cells[2 * other]
            fewer = owner > 0 and other != slot and cells[2 * other + 1] < connections
            if fewer and _alive(owner):
                return True
        return False

    def counts(self) -> dict[int, int]:
        """Return {pid: open connections} of the workers on the board."""
        cells = self._cells
        return {
            cells[2 * slot]: cells[2 * slot + 1]
            for slot in range(self._slots)
            if cells[2 * slot] > 0
        }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


BOARD = Board()  # at import: gunicorn's master imports the worker class before any fork


class BalancedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker that accepts a connection only when it is its turn."""

    _slot: int | None = None
    _published = -1
    _aside_until = 0.0  # monotonic time until which this worker leaves the listener alone
    _waiting_since: float | None = None  # when it began stepping aside (one wait, gaps < patience)

    def init_process(self) -> None:
        """Take a slot on the board, then run the worker (gunicorn calls this after the fork)."""
        self._slot = BOARD.claim(os.getpid())
        if self._slot is None:
            self.log.warning("worker %s accepts without balancing: the board is full", self.pid)
        try:
            super().init_process()  # runs the worker until it exits
        finally:
            if self._slot is not None:
                BOARD.release(self._slot, os.getpid())

    def accept(self, listener: Any) -> None:
        """Accept the waiting connection if it is this worker's turn (or it waited too long)."""
        if self._slot is not None:
            now = time.monotonic()
            if self._waiting_since is None or now - self._aside_until > PATIENCE_SECONDS:
                self._waiting_since = now  # it had not stepped aside lately: a new wait begins
            patient = now - self._waiting_since < PATIENCE_SECONDS
            if patient and BOARD.fewer_elsewhere(self._slot, self.nr_conns):
                self._aside_until = now + STEP_ASIDE_SECONDS
                self.set_accept_enabled(False)
                return
            self._waiting_since = None
        super().accept(listener)
        self._publish()

    def set_accept_enabled(self, enabled: bool) -> None:
        """Watch the listening socket, except while stepping aside."""
        super().set_accept_enabled(enabled and time.monotonic() >= self._aside_until)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """One turn of the worker's loop: publish the count, wake up when stepping aside ends."""
        self._publish()  # connections closed since the last turn
        remaining = self._aside_until - time.monotonic()
        super().wait_for_and_dispatch_events(min(timeout, remaining) if remaining > 0 else timeout)

    def _publish(self) -> None:
        if self._slot is None:
            return
        # A stopping worker accepts nothing more: the others must not step aside for it.
        shown = self.nr_conns if self.alive else STOPPING
        if shown != self._published:
            BOARD.publish(self._slot, shown)
            self._published = shown
            get_metrics().observe_connections(self.nr_conns)
