"""One CPU per gunicorn worker (``STREAMREC_API_PIN_WORKERS``, on by default).

A worker answers a request in several threads (gunicorn's poller hands the socket to a pool
thread) and waits on Redis in the middle of it. Unpinned, each of those wake-ups may land on
another core, whose caches hold none of the worker's data (the int8 item codes alone are 1.3 MB
of a 2 MiB L2): on this project's 2-core machine a Redis round trip cost the worker ~60 µs of CPU
woken on the other core against ~18 µs on its own, and the API answered 1,500 req/s at p99
7–12 ms pinned against 43 ms to seconds unpinned (BENCHMARKS.md "api-load", pinned and unpinned
rows of one run). Pinned, a worker keeps its threads on one core.

The master picks each new worker's CPU before the fork (``pre_fork``): the allowed CPU with the
fewest live workers, so replacements (a crashed worker, ``kill -HUP``) fill the gaps and more
workers than CPUs share them evenly. The worker pins itself after the fork (``post_fork``), before
it starts any thread, so all its threads inherit the CPU. Where the OS cannot pin threads
(macOS) or the process may use one CPU only, nothing is pinned.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

CPU_ATTRIBUTE = "streamrec_cpu"  # set on gunicorn's Worker object by the master


def choose_cpu(allowed: Sequence[int], taken: Iterable[int]) -> int:
    """Return the allowed CPU with the fewest workers on it (``taken``), the lowest on ties."""
    counts = Counter(cpu for cpu in taken if cpu in allowed)
    return min(allowed, key=lambda cpu: (counts[cpu], cpu))


def allowed_cpus() -> list[int]:
    """Return the CPUs this process may run on ([] where the OS does not say)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def assign_cpu(server: Any, worker: Any) -> None:
    """gunicorn ``pre_fork`` hook (master): note on ``worker`` the CPU it is to run on."""
    allowed = allowed_cpus()
    if len(allowed) < 2:
        return
    live = (getattr(other, CPU_ATTRIBUTE, None) for other in server.WORKERS.values())
    setattr(worker, CPU_ATTRIBUTE, choose_cpu(allowed, (cpu for cpu in live if cpu is not None)))


def pin_worker(server: Any, worker: Any) -> None:
    """gunicorn ``post_fork`` hook (the new worker): run this process on its CPU only."""
    cpu = getattr(worker, CPU_ATTRIBUTE, None)
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as error:  # the CPU went away (a changed cpuset): run unpinned, say so
        server.log.warning("worker %s not pinned to CPU %s: %s", os.getpid(), cpu, error)
        return
    server.log.info("worker %s pinned to CPU %s", os.getpid(), cpu)
