"""Fixtures shared by every test level.

Integration and end-to-end tests need a real Kafka broker and a real Redis server, found in this
order: the ones named by STREAMREC_KAFKA_BOOTSTRAP and STREAMREC_REDIS_URL; testcontainers, when
a Docker engine answers; otherwise the project's own scripts (scripts/services.sh up), which
provision them on this machine. Each test session uses its own topics, consumer group and Redis
key prefix, so runs never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Where scripts/services.sh starts them (the same variables move both).
LOCAL_KAFKA = f"127.0.0.1:{os.environ.get('STREAMREC_KAFKA_PORT', '19092')}"
LOCAL_REDIS = f"redis://127.0.0.1:{os.environ.get('STREAMREC_REDIS_PORT', '16379')}/0"


@dataclass(frozen=True)
class Backends:
    """Where the real services for this test session are."""

    kafka_bootstrap: str
    redis_url: str
    how: str


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by directory so ``-m 'not integration'`` selects the unit tests."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for level in ("integration", "e2e"):
            if level in parts:
                item.add_marker(getattr(pytest.mark, level))


def docker_engine_answers() -> bool:
    """Return whether a Docker engine (not just the client) is reachable."""
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    """Find or start a real Kafka broker and Redis server for the whole session."""
    kafka, redis_url = (
        os.environ.get("STREAMREC_KAFKA_BOOTSTRAP"),
        os.environ.get("STREAMREC_REDIS_URL"),
    )
    if kafka and redis_url:
        yield Backends(kafka, redis_url, "configured")
    elif docker_engine_answers():
        yield from _containers()
    else:
        subprocess.run(["bash", str(REPO / "scripts" / "services.sh"), "up"], check=True)
        yield Backends(LOCAL_KAFKA, LOCAL_REDIS, "scripts/services.sh")


def _containers() -> Iterator[Backends]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.redis import RedisContainer

    with (
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
        RedisContainer("redis:7") as redis,
    ):
        host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
        yield Backends(kafka.get_bootstrap_server(), f"redis://{host}:{port}/0", "testcontainers")


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short id that names this session's topics, consumer group and key prefix."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def isolated(
    backends: Backends, run_id: str, tmp_path: Path, request: pytest.FixtureRequest
) -> dict[str, object]:
    """Setting overrides private to one test: own topics, group, key prefix and model dir."""
    name = f"{run_id}-{abs(hash(request.node.nodeid)) % 10**6}"
    return {
        "kafka_bootstrap": backends.kafka_bootstrap,
        "redis_url": backends.redis_url,
        "events_topic": f"watch-events-{name}",
        "dlq_topic": f"watch-events-dlq-{name}",
        "stream_group_id": f"streamrec-stream-{name}",
        "key_prefix": f"t{name.replace('-', '')}"[:32],
        "model_dir": tmp_path / "models",
        "topic_partitions": 3,
    }
