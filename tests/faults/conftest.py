"""Fixtures of the fault scenarios: private settings, a Redis client, killable processes."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from ingest.settings import Settings, load_settings
from tests.faults.accounting import RESULTS_DIR
from tests.faults.services import PrivateRedis, running
from tests.processes import settings_env, stop_process


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here ``faults`` (they run only when tests/faults is named explicitly)."""
    for item in items:
        if "faults" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def fault_settings(isolated: dict[str, object]) -> Iterator[Settings]:
    """Settings private to one scenario: own topics (6 partitions, deleted afterwards)."""
    settings = load_settings(**{**isolated, "topic_partitions": 6, "stream_metrics_port": 0})
    yield settings
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    try:
        admin.delete_topics([settings.events_topic, settings.dlq_topic])
    except KafkaError:
        pass  # never created, or the broker is gone: nothing to clean up
    finally:
        admin.close()


@pytest.fixture
def fault_redis(fault_settings: Settings) -> Iterator[redis.Redis]:
    """A Redis client; every key under the scenario's prefix is deleted afterwards."""
    client = redis.Redis.from_url(fault_settings.redis_url)
    yield client
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{fault_settings.key_prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)
    client.close()


class Processes:
    """streamrec processes a scenario starts, kills and restarts (all stopped at teardown)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: list[str], settings: Settings, name: str, **env: str
    ) -> subprocess.Popen[bytes]:
        """Start ``streamrec ARGS``; its output goes to <logs>/<name>.log (appended)."""
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ingest.cli", *args],
                env=settings_env(settings, **env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def log(self, name: str) -> Path:
        """The log file of the processes started under ``name``."""
        return self.logs / f"{name}.log"

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL a process (no clean-up of any kind) and reap it."""
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        """Stop every process still running (SIGTERM, then SIGKILL)."""
        for process in self.started:
            stop_process(process)


@pytest.fixture
def processes(request: pytest.FixtureRequest) -> Iterator[Processes]:
    """Start streamrec processes (logs in .run/faults/logs/<test>/); all stopped afterwards."""
    logs = RESULTS_DIR / "logs" / request.node.name
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    running = Processes(logs)
    yield running
    running.stop_all()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis server (AOF) that a scenario may kill, freeze or restart."""
    server = PrivateRedis(tmp_path / "state")
    with running(server):
        yield server
