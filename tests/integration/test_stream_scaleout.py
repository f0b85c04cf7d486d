"""Two workers in one consumer group, one killed (SIGKILL) mid-replay: nothing lost or doubled."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import redis

from ingest.publisher import kafka_publisher
from ingest.replay import replay
from ingest.settings import Settings, load_settings
from ingest.sources import generate_events
from ingest.topics import ensure_topics
from stream.features import feature_update
from stream.redis_store import RedisFeatureStore
from stream.store import InMemoryFeatureStore
from tests.processes import settings_env, streamrec_process, wait_for

N_EVENTS = 50_000
REDELIVERED = 2_000  # published twice, as a producer retrying after a lost acknowledgement would
ALL = 10**6


@pytest.fixture
def settings(isolated: dict[str, object]) -> Settings:
    return load_settings(**{**isolated, "topic_partitions": 6, "stream_metrics_port": 0})


def assigned(log: Path) -> set[int] | None:
    """The partitions a worker logged as assigned last, or None before its first assignment."""
    found = re.findall(r"assigned partitions \[([\d, ]*)\]", log.read_text(errors="replace"))
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else None


def shared(logs: list[Path]) -> bool:
    """Whether every worker owns some partitions and together they own all six."""
    owned = [assigned(log) or set() for log in logs]
    return all(owned) and set().union(*owned) == set(range(6))


def expected_store(events: list, settings: Settings) -> InMemoryFeatureStore:
    """The state one clean run produces, computed in memory."""
    store = InMemoryFeatureStore(history_length=settings.history_length)
    store.apply([feature_update(event) for event in events])
    return store


def test_a_worker_killed_mid_replay_loses_nothing_and_doubles_nothing(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    ensure_topics(settings)
    events = list(generate_events(n_users=3000, n_items=800, n_events=N_EVENTS, seed=5))
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    env = settings_env(settings)
    store = RedisFeatureStore(redis_client, settings.key_prefix, settings.history_length)
    with (
        streamrec_process(["stream"], env, logs[0]) as victim,
        streamrec_process(["stream"], env, logs[1]) as survivor,
    ):
        wait_for(
            lambda: (
                all(assigned(log) for log in logs)
                and sorted(assigned(logs[0]) | assigned(logs[1])) == list(range(6))
            ),  # type: ignore[operator]
            60,
            "both workers to share the six partitions",
            logs[1],
        )
        publisher = kafka_publisher(settings)
        replaying = threading.Thread(
            target=replay,
            args=(events + events[:REDELIVERED], publisher, 12_000),
            kwargs={"show_progress": False},
        )
        replaying.start()
        wait_for(lambda: store.stats()["applied"] >= N_EVENTS // 4, 60, "a quarter", logs[0])
        victim.kill()
        replaying.join(60)
        publisher.close()
        wait_for(lambda: sum(store.stats().values()) >= N_EVENTS + REDELIVERED, 60, "all", logs[1])
        assert survivor.poll() is None
        print("stats after the kill:", store.stats(), "survivor owns", assigned(logs[1]))

    expected = expected_store(events, settings)
    assert store.stats()["applied"] == N_EVENTS
    assert store.stats()["duplicates"] >= REDELIVERED
    assert dict(store.iter_user_items()) == dict(expected.iter_user_items())
    assert dict(store.popular_items(ALL)) == dict(expected.popular_items(ALL))
    assert dict(store.trending_items(ALL)) == pytest.approx(dict(expected.trending_items(ALL)))
    for user_id in sorted({event.user_id for event in events[:200]}):
        assert store.user_history(user_id, 50) == expected.user_history(user_id, 50)
