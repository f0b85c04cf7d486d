"""Scenario 7: a soak. Mixed traffic at 70% of the API's measured capacity for 10 minutes: the
memory of every process stays flat, and every event accepted is applied exactly once.

The whole pipeline runs as processes: a private broker and Redis, the stream worker, the trainer
(retraining every minute and publishing each model: the API hot-swaps them) and the API
(gunicorn, 2 workers x 4 threads). Capacity is measured first, here, with the same mix in a closed
loop (16 clients): BENCHMARKS.md's figure is for GET recommendations alone, and the machine is
shared. RSS of every process is sampled every 30 s. "Flat": after the warm-up (the first 20% of
the run: caches, model swaps and allocators settle), RSS at the end is within 10% (at least
16 MiB) of RSS at the end of the warm-up; for Redis the growth of its dataset (``used_memory``:
events add history and dedup keys, by design) is allowed on top. A leak of a few hundred bytes
per request (~120,000 requests) would exceed it. The broker's heap is pre-touched
(-XX:+AlwaysPreTouch), else its RSS grows for minutes as G1 first uses pages of its committed
heap, which is no leak. Long: it runs with ``make test-faults`` only; FAULTS_SOAK_SECONDS sets a
shorter run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.faults.accounting import account
from tests.faults.clients import (
    start_api,
)
from tests.faults.conftest import Processes
from tests.faults.load import LoadResult, MixedLoad
from tests.faults.services import (
    PrivateKafka,
    PrivateRedis,
    private_settings,
    process_tree,
    rss_mib,
    running,
)
from tests.faults.traffic import create_topics, known_events, publish, wait_drained

SOAK_SECONDS = float(os.environ.get("FAULTS_SOAK_SECONDS", "600"))
LOAD_SHARE = 0.70
CAPACITY_SECONDS = 20.0
WARM_UP_SHARE = 0.20
SAMPLE_SECONDS = 30.0
GROWTH_SHARE, GROWTH_FLOOR_MIB = 0.10, 16.0
N_USERS, N_ITEMS = 3000, 800
SEED = 77

pytestmark = [pytest.mark.timeout(int(SOAK_SECONDS) + 1200)]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateKafka]:
    # The heap touched at start: RSS growth then shows leaks, not G1 touching its heap's pages
    # for the first time (512 MiB committed, resident only once used).
    kafka = PrivateKafka(tmp_path / "state", jvm_options="-XX:+AlwaysPreTouch")
    with running(kafka):
        yield kafka


class MemorySampler:
    """Samples the RSS of named processes (and Redis's dataset size) until stopped."""

    def __init__(self, pids: dict[str, Any], client: redis.Redis) -> None:
        self.pids = pids  # name -> pid, or a callable returning the pids (gunicorn's workers)
        self.client = client
        self.samples: list[dict[str, float]] = []
        self.stop = threading.Event()

    def sample(self, at: float) -> dict[str, float]:
        """One sample: seconds since the start, MiB per process, Redis used_memory in MiB."""
        row = {"at_seconds": round(at, 1)}
        for name, pid in self.pids.items():
            pids = pid() if callable(pid) else [pid]
            for n, one in enumerate(pids):
                row[name if len(pids) == 1 else f"{name} {n}"] = round(rss_mib(one), 1)
        row["redis dataset"] = round(int(self.client.info("memory")["used_memory"]) / 2**20, 1)
        self.samples.append(row)
        return row

    def run(self, started: float) -> None:
        """Sample every SAMPLE_SECONDS until stopped."""
        while not self.stop.wait(SAMPLE_SECONDS):
            self.sample(time.monotonic() - started)


def growth_problems(warm: dict[str, float], end: dict[str, float]) -> list[str]:
    """The processes whose memory grew past the bound after the warm-up."""
    problems = []
    data_growth = end["redis dataset"] - warm["redis dataset"]
    for name, before in warm.items():
        if name in ("at_seconds", "redis dataset"):
            continue
        allowed = max(GROWTH_SHARE * before, GROWTH_FLOOR_MIB)
        allowed += max(0.0, data_growth) if name == "redis" else 0.0
        if end[name] - before > allowed:
            problems.append(f"{name}: {before} -> {end[name]} MiB (allowed +{allowed:.1f})")
    return problems


def print_memory(samples: list[dict[str, float]]) -> None:
    """A table of the samples: one row per process, one column per sample."""
    names = [name for name in samples[0] if name != "at_seconds"]
    print("RSS MiB at s: " + " ".join(f"{s['at_seconds']:>7.0f}" for s in samples))
    for name in names:
        print(f"{name:>13}: " + " ".join(f"{s.get(name, 0):>7.1f}" for s in samples))


def test_soak_memory_stays_flat_and_the_books_balance(
    broker: PrivateKafka, redis_server: PrivateRedis, processes: Processes, tmp_path: Path
) -> None:
    settings = private_settings(
        "soak",
        broker.bootstrap,
        redis_server.url,
        tmp_path,
        holdout_tolerance=1.0,  # every retrain is published: the API swaps models all along
    )
    create_topics(settings)
    client = redis.Redis.from_url(settings.redis_url)
    worker = processes.start(["stream"], settings, "worker")
    seeded = publish(settings, known_events(20_000, SEED, N_USERS, N_ITEMS, redelivered=0))
    wait_drained(settings, 300, lambda: worker.poll() is None)
    first_model = processes.start(["train", "--force", "--quiet"], settings, "train-first")
    assert first_model.wait(300) == 0, processes.log("train-first").read_text(errors="replace")
    api = start_api(processes, settings)
    trainer = processes.start(["train", "--interval", "60", "--quiet"], settings, "trainer")
    load = MixedLoad(f"http://127.0.0.1:{settings.api_port}", N_USERS, N_ITEMS)

    capacity_run = load.run(CAPACITY_SECONDS, 0, SEED)
    capacity = capacity_run.requests / capacity_run.seconds
    rate = LOAD_SHARE * capacity
    print(f"capacity with the mix (closed loop, 16 clients): {capacity:.0f} req/s;")
    print(f"soak at {rate:.0f} req/s for {SOAK_SECONDS:.0f} s ({capacity_run.summary()})")
    sampler = MemorySampler(
        {
            "api master": api.pid,
            "api worker": lambda: process_tree(api.pid)[1:],
            "stream worker": worker.pid,
            "trainer": trainer.pid,
            "kafka broker": broker.pid(),
            "redis": redis_server.pid(),
        },
        client,
    )
    started = time.monotonic()
    sampler.sample(0)
    sampling = threading.Thread(target=sampler.run, args=(started,))
    sampling.start()
    soak: list[LoadResult] = []
    loading = threading.Thread(target=lambda: soak.append(load.run(SOAK_SECONDS, rate, SEED + 1)))
    loading.start()
    time.sleep(WARM_UP_SHARE * SOAK_SECONDS)
    warm = sampler.sample(time.monotonic() - started)
    loading.join(SOAK_SECONDS + 300)
    end = sampler.sample(time.monotonic() - started)
    sampler.stop.set()
    sampling.join()
    drain_seconds = wait_drained(settings, 300, lambda: worker.poll() is None)

    result = soak[0]
    sent = seeded + capacity_run.accepted + result.accepted
    accounting = account("soak", settings, client, sent)
    print(accounting.summary())
    print(f"soak traffic: {result.summary()}; drained {drain_seconds:.0f} s after;")
    published = processes.log("trainer").read_text(errors="replace").count("published model")
    print(f"models published (and swapped in by the API) during the soak: {published}")
    print_memory(sorted(sampler.samples, key=lambda s: s["at_seconds"]))
    problems = growth_problems(warm, end)
    accounting.write(
        time.monotonic() - started,
        {f"none: {SOAK_SECONDS / 60:.0f} min of mixed traffic at 70% of capacity": 1},
        capacity_requests_per_second=round(capacity, 1),
        load=result.summary(),
        rss_mib={"start": sampler.samples[0], "after_warm_up": warm, "end": end},
        memory_flat=not problems,
        memory_problems=problems,
        models_published=published,
    )
    # History has no degraded form: 503 + Retry-After while Redis does not answer in time is its
    # contract. Everything else answers, degraded if need be.
    for kind in ("recommendations", "similar", "trending", "watch"):
        assert result.server_errors(kind) == 0, f"{kind}: 5xx or no answer: {result.by_kind}"
    assert result.requests >= 0.9 * rate * SOAK_SECONDS, "the load fell short of its rate"
    assert all(p.poll() is None for p in (api, worker, trainer)), "a process died"
    assert not problems, f"memory grew: {problems}"
    accounting.assert_clean()
