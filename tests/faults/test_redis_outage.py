"""Scenario 4: Redis restarted, and Redis unreachable for 30 s, while the worker processes events.

(a) Redis SIGKILLed mid-processing and started again: it reloads its append-only file; the worker
retries the batch in hand and carries on. (b) Redis frozen (SIGSTOP: the port stays open, nothing
answers, every call times out) for 30 s while events flow and the API serves: the worker pauses
and retries without committing offsets it has not applied — proved by the committed offsets
standing still for the whole outage and by SIGKILLing the worker at its end (a fresh one must
find every unapplied event still uncommitted) — and the API answers degraded, never 5xx.

Redis is private to the test; Kafka is the shared broker (never touched), with private topics.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaAdminClient

from ingest.settings import Settings
from stream import keys
from tests.faults.accounting import account
from tests.faults.clients import (
    PostStats,
    get_json,
    ingest_over_http,
    paced,
    start_api,
    with_users_prefixed,
)
from tests.faults.conftest import Processes
from tests.faults.poison import poison_messages
from tests.faults.services import (
    PrivateRedis,
    free_port,
)
from tests.faults.traffic import (
    Sent,
    create_topics,
    known_events,
    mix,
    publish,
    wait_drained,
)
from tests.processes import wait_for

OUTAGE_SECONDS = 30.0
SEED = 7

pytestmark = [pytest.mark.faults_ci, pytest.mark.timeout(900)]


@pytest.fixture
def settings(fault_settings: Settings, redis_server: PrivateRedis) -> Settings:
    """The scenario's settings, with the private Redis and a small, quick model."""
    return fault_settings.model_copy(
        update={
            "redis_url": redis_server.url,
            "api_port": free_port(),
            "access_log": False,
            "als_factors": 16,
            "als_iterations": 5,
        }
    )


def applied(client: redis.Redis, settings: Settings) -> int:
    """The worker's applied counter (0 while Redis does not answer)."""
    try:
        return int(client.hget(keys.stats_key(settings.key_prefix), "applied") or 0)
    except redis.RedisError:
        return 0


def redis_retries(log: Path) -> int:
    """How many times the worker logged a failed Redis write it is going to retry."""
    return len(re.findall(r"Redis write failed", log.read_text(errors="replace")))


def test_redis_killed_and_restarted_mid_processing_loses_nothing(
    settings: Settings, redis_server: PrivateRedis, processes: Processes
) -> None:
    create_topics(settings)
    messages = mix(known_events(40_000, SEED, redelivered=1000), poison_messages(300, SEED), SEED)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
    started = time.monotonic()
    worker = processes.start(["stream"], settings, "worker")
    sent: list[Sent] = []
    publishing = threading.Thread(
        target=lambda: sent.extend(publish(settings, paced(messages, 5000)))
    )
    publishing.start()
    log = processes.log("worker")
    wait_for(lambda: applied(client, settings) >= 10_000, 120, "10,000 applied", log)
    killed = time.monotonic()
    redis_server.kill()
    time.sleep(2)
    restart_seconds = redis_server.start()
    down_seconds = time.monotonic() - killed
    publishing.join(300)
    drain_seconds = wait_drained(settings, 300, lambda: worker.poll() is None)
    duration = time.monotonic() - started

    accounting = account("redis_restart", settings, client, sent)
    retries = redis_retries(log)
    print(accounting.summary())
    print(f"Redis down {down_seconds:.1f} s (restart {restart_seconds:.1f} s); worker retried")
    print(f"{retries} times; drained {drain_seconds:.0f} s after the replay")
    accounting.write(
        duration,
        {"Redis SIGKILL + restart (AOF)": 1},
        redis_down_seconds=round(down_seconds, 1),
        worker_redis_retries=retries,
    )
    assert len(sent) == len(messages), "Kafka did not acknowledge every message"
    assert retries > 0, "the worker never met the dead Redis: the kill came too late"
    assert worker.poll() is None, "the worker died instead of retrying"
    accounting.assert_clean()


def committed_offsets(settings: Settings) -> dict[int, int]:
    """The offsets the worker group committed, by partition of the events topic."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    try:
        group = settings.stream_group_id
        found = admin.list_group_offsets({group: None}).get(group, {})
        return {tp.partition: meta.offset for tp, meta in found.items()}
    finally:
        admin.close()


@dataclass
class Poller:
    """Asks the API for lists and history throughout; counts statuses and degraded answers."""

    base: str
    users: list[str]
    items: list[str]
    answers: list[dict[str, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, seed: int) -> None:
        """Poll until stopped (one thread)."""
        rng = random.Random(seed)
        while not self.stop.is_set():
            kind, path = self.pick(rng)
            status, body = get_json(f"{self.base}{path}")
            degraded = isinstance(body, dict) and body.get("degraded") is True
            self.answers.append(
                {"at": time.monotonic(), "kind": kind, "status": status, "degraded": degraded}
            )
            time.sleep(0.02)

    def pick(self, rng: random.Random) -> tuple[str, str]:
        """One request of the mix: mostly recommendations."""
        kind = rng.choices(["recommendations", "similar", "trending", "history"], [6, 2, 1, 1])[0]
        user, item = rng.choice(self.users), rng.choice(self.items)
        paths = {
            "recommendations": f"/v1/users/{user}/recommendations?k=10",
            "similar": f"/v1/items/{item}/similar?k=10",
            "trending": "/v1/trending?k=10",
            "history": f"/v1/users/{user}/history?limit=10",
        }
        return kind, paths[kind]

    def statuses(self, start: float, end: float) -> dict[str, dict[str, int]]:
        """Statuses (and degraded answers) per kind of request between two instants."""
        table: dict[str, Counter[str]] = {}
        for answer in self.answers:
            if start <= answer["at"] < end:
                counts = table.setdefault(answer["kind"], Counter())
                counts[str(answer["status"])] += 1
                counts["degraded"] += answer["degraded"]
        return {kind: dict(counts) for kind, counts in sorted(table.items())}


def lists_5xx(table: dict[str, dict[str, int]]) -> int:
    """5xx answers (or no answer) to the list endpoints, which must always answer."""
    return sum(
        n
        for kind, counts in table.items()
        if kind != "history"
        for status, n in counts.items()
        if status != "degraded" and (status == "0" or status.startswith("5"))
    )


def test_redis_unreachable_for_30s_worker_commits_nothing_api_stays_up(
    settings: Settings, redis_server: PrivateRedis, processes: Processes
) -> None:
    create_topics(settings)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
    started = time.monotonic()
    worker = processes.start(["stream"], settings, "worker")
    first = publish(settings, known_events(20_000, SEED, redelivered=0))
    wait_drained(settings, 300, lambda: worker.poll() is None)
    trained = processes.start(["train", "--force", "--quiet"], settings, "train")
    assert trained.wait(300) == 0, processes.log("train").read_text(errors="replace")
    start_api(processes, settings)
    base = f"http://127.0.0.1:{settings.api_port}"
    status, body = get_json(f"{base}/v1/users/user-1/recommendations?k=10")
    assert status == 200 and not body.get("degraded"), body

    # Events keep coming during the outage: straight into Kafka, and through the API.
    later = known_events(45_000, SEED + 1, redelivered=500)
    over_kafka: list[Sent] = []
    publishing = threading.Thread(
        target=lambda: over_kafka.extend(publish(settings, paced(later, 1000)))
    )
    post_stats, over_http = PostStats(), []
    web = with_users_prefixed(known_events(3000, SEED + 2, redelivered=0), "web-")
    posting = threading.Thread(
        target=lambda: over_http.extend(
            ingest_over_http(base, web, post_stats, 1, batch_size=5, pause_seconds=0.08)
        )
    )
    users = [f"user-{n}" for n in range(3000)]
    poller = Poller(base, users, [f"item-{n}" for n in range(0, 800, 7)])
    polling = [threading.Thread(target=poller.run, args=(n,)) for n in range(3)]
    for thread in [publishing, posting, *polling]:
        thread.start()
    time.sleep(5)

    frozen_at = time.monotonic()
    redis_server.freeze()
    time.sleep(3)  # a commit of a batch applied just before the freeze may still land
    offsets_early = committed_offsets(settings)
    time.sleep(OUTAGE_SECONDS - 4)
    offsets_late = committed_offsets(settings)
    retries = redis_retries(processes.log("worker"))
    processes.kill(worker)  # whatever it committed without applying would now be lost
    redis_server.thaw()
    thawed_at = time.monotonic()
    worker = processes.start(["stream"], settings, "worker-2")
    time.sleep(15)
    poller.stop.set()
    for thread in [publishing, posting, *polling]:
        thread.join(600)
    drain_seconds = wait_drained(settings, 300, lambda: worker.poll() is None)
    duration = time.monotonic() - started

    outage = poller.statuses(frozen_at + 1, thawed_at)
    whole = poller.statuses(0, float("inf"))
    after = poller.statuses(thawed_at + 10, float("inf"))
    sent = first + over_kafka + over_http
    accounting = account("redis_outage", settings, client, sent)
    print(accounting.summary())
    print(f"API during the outage: {outage}\nAPI after it (+10 s): {after}\nwhole run: {whole}")
    print(f"POST /v1/events (through the outage): {post_stats.as_dict()}")
    print(f"worker retried Redis {retries} times; committed offsets during the outage:")
    print(f"  at +3 s {offsets_early}\n  at +29 s {offsets_late}")
    accounting.write(
        duration,
        {"Redis unreachable (SIGSTOP) 30 s": 1, "stream worker SIGKILL at the outage's end": 1},
        api_during_outage=outage,
        api_whole_run=whole,
        http_posts=post_stats.as_dict(),
        worker_redis_retries=retries,
        drain_seconds=round(drain_seconds, 1),
    )
    assert offsets_early == offsets_late, "the worker committed offsets while Redis was down"
    assert retries > 0, "the worker never noticed the outage"
    assert lists_5xx(whole) == 0, f"list endpoints answered 5xx or nothing: {whole}"
    recommendations = outage.get("recommendations", {})
    assert recommendations.get("degraded", 0) == recommendations.get("200", -1) > 0, outage
    assert all(counts.get("degraded", 0) == 0 for counts in after.values()), after
    assert set(post_stats.statuses) == {202}, post_stats.as_dict()
    assert len(over_kafka) == len(later)
    accounting.assert_clean()
