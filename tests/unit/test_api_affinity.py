"""Which CPU the gunicorn master gives each new worker (api.affinity); pinning itself is tested
on a real server in tests/e2e/test_api_server.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from api import affinity
from api.affinity import CPU_ATTRIBUTE, assign_cpu, choose_cpu
from api.server import gunicorn_options
from ingest.settings import Settings


def test_choose_cpu_takes_the_least_used_then_the_lowest() -> None:
    assert choose_cpu([0, 1], []) == 0
    assert choose_cpu([0, 1], [0]) == 1
    assert choose_cpu([0, 1], [0, 1]) == 0
    assert choose_cpu([0, 1, 2, 3], [0, 1, 3, 0]) == 2
    assert choose_cpu([2, 5], [2, 7, 7, 7]) == 5  # CPUs no longer allowed do not count


def _server(*cpus: int | None) -> SimpleNamespace:
    workers = {}
    for pid, cpu in enumerate(cpus, start=100):
        worker = SimpleNamespace()
        if cpu is not None:
            setattr(worker, CPU_ATTRIBUTE, cpu)
        workers[pid] = worker
    return SimpleNamespace(WORKERS=workers)


def test_new_workers_fill_the_cpus_evenly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(affinity, "allowed_cpus", lambda: [0, 1])
    server = _server()
    for pid in range(4):  # as the master spawns them: each joins WORKERS after its fork
        worker = SimpleNamespace()
        assign_cpu(server, worker)
        server.WORKERS[pid] = worker
    assert [getattr(w, CPU_ATTRIBUTE) for w in server.WORKERS.values()] == [0, 1, 0, 1]
    replacement = SimpleNamespace()
    assign_cpu(_server(0, 1, 1, None), replacement)  # a worker of CPU 0 died
    assert getattr(replacement, CPU_ATTRIBUTE) == 0


def test_nothing_is_pinned_with_a_single_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(affinity, "allowed_cpus", lambda: [3])
    worker = SimpleNamespace()
    assign_cpu(_server(), worker)
    assert not hasattr(worker, CPU_ATTRIBUTE)


def test_pinning_hooks_follow_the_setting() -> None:
    pinned = gunicorn_options(Settings())
    assert pinned["pre_fork"] is assign_cpu and pinned["post_fork"] is affinity.pin_worker
    unpinned = gunicorn_options(Settings(api_pin_workers=False))
    assert "pre_fork" not in unpinned and "post_fork" not in unpinned
