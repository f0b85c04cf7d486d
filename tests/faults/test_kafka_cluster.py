"""Scenario 2: a three-broker Kafka cluster (RF 3, min.insync.replicas 2), one broker SIGKILLed
during ingestion: nothing is lost, and the clients see nothing beyond retries.

The topics are created by the product (``ensure_topics``, the broker's default replication).
Events arrive at once through the HTTP API (4 clients; 503 + Retry-After would be a retry) and
through ``streamrec replay``, which must finish without an error. The killed node is the leader
of the events topic's partition 0; it is started again once the ingestion is over.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kafka import KafkaAdminClient

from ingest.settings import Settings
from ingest.topics import ensure_topics
from tests.faults.accounting import account
from tests.faults.clients import (
    PostStats,
    ingest_over_http,
    start_api,
    with_users_prefixed,
    write_replay_csv,
)
from tests.faults.conftest import Processes
from tests.faults.services import (
    KafkaCluster,
    PrivateRedis,
    private_settings,
    running,
)
from tests.faults.traffic import known_events, wait_drained
from tests.processes import wait_for

N_HTTP = 24_000
N_REPLAY = 24_000
SEED = 21

pytestmark = [pytest.mark.faults_ci, pytest.mark.timeout(900)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    kafka = KafkaCluster(tmp_path / "state")
    with running(kafka):
        yield kafka


def topic_layout(settings: Settings) -> dict[int, dict[str, object]]:
    """Leader, replicas and in-sync replicas of each partition of the events topic."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    try:
        described = admin.describe_topics([settings.events_topic])[0]["partitions"]
        return {
            p["partition_index"]: {
                "leader": p["leader_id"],
                "replicas": sorted(p["replica_nodes"]),
                "isr": sorted(p["isr_nodes"]),
            }
            for p in described
        }
    finally:
        admin.close()


def test_one_broker_of_three_killed_during_ingestion_loses_nothing(
    cluster: KafkaCluster, redis_server: PrivateRedis, processes: Processes, tmp_path: Path
) -> None:
    settings = private_settings("cluster", cluster.bootstrap, redis_server.url, tmp_path)
    ensure_topics(settings)

    def complete() -> dict[int, dict[str, object]] | None:
        # The broker asked may not list a topic's partitions and leaders yet right after creation.
        layout = topic_layout(settings)
        wanted = set(range(settings.topic_partitions))
        led = all(int(p["leader"]) >= 0 for p in layout.values())  # type: ignore[call-overload]
        return layout if set(layout) == wanted and led else None

    layout = wait_for(complete, 30, "every partition of the new topic with a leader")
    assert all(len(p["replicas"]) == 3 for p in layout.values()), layout  # type: ignore[arg-type]
    victim = int(layout[0]["leader"])  # type: ignore[call-overload]
    csv = tmp_path / "events.csv"
    in_file = write_replay_csv(csv, N_REPLAY, SEED)
    over_api = with_users_prefixed(known_events(N_HTTP, SEED + 1, redelivered=500), "web-")

    started = time.monotonic()
    worker = processes.start(["stream"], settings, "worker")
    start_api(processes, settings)
    stats, progress, over_http = PostStats(), [0], []
    base = f"http://127.0.0.1:{settings.api_port}"
    posting = threading.Thread(
        target=lambda: over_http.extend(
            ingest_over_http(
                base, over_api, stats, batch_size=50, progress=progress, pause_seconds=0.05
            )
        )
    )
    posting.start()
    replay = processes.start(["replay", str(csv), "--rate", "1500", "--quiet"], settings, "replay")
    wait_for(lambda: progress[0] >= len(over_api) // 4, 120, "a quarter posted")
    posted_at_kill = progress[0]
    fence_seconds = cluster.kill(victim)
    layout_after_kill = topic_layout(settings)
    posting.join(600)
    replay_exit = replay.wait(300)
    replay_output = processes.log("replay").read_text(errors="replace")
    restart_seconds = cluster.restart(victim)
    drain_seconds = wait_drained(settings, 300, lambda: worker.poll() is None)
    duration = time.monotonic() - started

    client = redis.Redis.from_url(settings.redis_url)
    accounting = account("kafka_cluster_broker_kill", settings, client, over_http + in_file)
    print(accounting.summary())
    print(f"killed node {victim} (leader of partition 0) with {posted_at_kill} of")
    print(f"{len(over_api)} posted; fenced after {fence_seconds:.1f} s; restarted in")
    print(f"{restart_seconds:.1f} s; drained {drain_seconds:.0f} s later; partitions after the")
    print(f"kill: {layout_after_kill}")
    print(f"HTTP clients saw {stats.as_dict()}; replay exited {replay_exit}:")
    print(replay_output.strip()[-400:])
    accounting.write(
        duration,
        {"Kafka broker SIGKILL (1 of 3)": 1},
        http=stats.as_dict(),
        replay_exit_code=replay_exit,
        killed_node=victim,
        fence_seconds=round(fence_seconds, 1),
        restart_seconds=round(restart_seconds, 1),
        drain_seconds=round(drain_seconds, 1),
    )
    assert posted_at_kill < len(over_api), "the kill came after ingestion had finished"
    assert all(victim not in p["isr"] for p in layout_after_kill.values()), layout_after_kill  # type: ignore[operator]
    assert replay_exit == 0, f"the replay surfaced an error: {replay_output[-1000:]}"
    assert json.loads(replay_output.strip().splitlines()[-1])["published"] == N_REPLAY
    assert set(stats.statuses) <= {202, 503}, f"answers beyond retries: {stats.as_dict()}"
    assert stats.connection_errors == 0, stats.as_dict()
    accounting.assert_clean()
