"""Topics, the acknowledged publisher and the stream worker against the real broker and Redis."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

from ingest.errors import Unavailable
from ingest.kafka_security import client_security
from ingest.publisher import KafkaEventPublisher
from ingest.schema import validate_event
from ingest.settings import Settings
from ingest.topics import ensure_topics
from stream.redis_store import RedisFeatureStore
from tests.processes import publish_all, settings_env, streamrec_process, wait_for


def event(event_id: str, user_id: str, item_id: str, event_type: str = "view", ts: int = 1000):
    return validate_event(
        {
            "event_id": event_id,
            "user_id": user_id,
            "item_id": item_id,
            "event_type": event_type,
            "timestamp": ts,
        }
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int, must_contain: str) -> dict[str, float] | None:
    """Read the worker's /metrics as {series: value}, or None until it has ``must_contain``."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return None
    samples = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            samples[series] = float(value)
    return samples if any(must_contain in series for series in samples) else None


def consume_all(settings: Settings, topic: str, expected: int, timeout_s: float = 30.0) -> list:
    """Read ``expected`` records of a topic from the start, with the settings' Kafka security."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        **client_security(settings),
    )
    records: list = []
    try:
        wait_for(
            lambda: records.extend(consumer) or len(records) >= expected,
            timeout_s,
            f"{expected} records on {topic}",
        )
    finally:
        consumer.close()
    return records


def test_ensure_topics_creates_both_with_partitions_once(settings: Settings) -> None:
    assert sorted(ensure_topics(settings)) == sorted([settings.events_topic, settings.dlq_topic])
    assert ensure_topics(settings) == []
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        described = admin.describe_topics([settings.events_topic])
    finally:
        admin.close()
    assert len(described[0]["partitions"]) == settings.topic_partitions


def test_publisher_waits_for_acks_and_keys_by_user(settings: Settings) -> None:
    ensure_topics(settings)
    sent = [event(f"e{n}", f"user-{n % 3}", f"item-{n}") for n in range(20)]
    publish_all(settings, sent)
    records = consume_all(settings, settings.events_topic, expected=20)
    by_id = {json.loads(r.value)["event_id"]: r for r in records}
    assert sorted(by_id) == sorted(e.event_id for e in sent)
    for original in sent:
        record = by_id[original.event_id]
        assert record.key == original.user_id.encode()
        assert validate_event(json.loads(record.value)) == original
    partitions_of_user = {}
    for record in records:
        partitions_of_user.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in partitions_of_user.values())


def test_publisher_reports_unreachable_broker_as_unavailable() -> None:
    publisher = KafkaEventPublisher("127.0.0.1:1", "nowhere", timeout_seconds=1.0)
    with pytest.raises(Unavailable, match="Kafka"):
        publisher.publish([event("e", "u", "i")])
    publisher.close()


def test_worker_applies_valid_events_once_and_dead_letters_the_rest(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    ensure_topics(settings)
    raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    valid = [
        event(
            f"e{n}", f"user-{n % 4}", f"item-{n % 9}", "like" if n % 5 == 0 else "view", ts=1000 + n
        )
        for n in range(60)
    ]
    invalid = [b"\xff\xfe not utf-8", b"{broken json", b'{"event_id": "x"}', b"x" * 70_000]
    for item in valid + valid[:10]:  # the first ten are delivered twice
        raw.send(settings.events_topic, key=item.user_id.encode(), value=item.to_json_bytes())
    for bad in invalid:
        raw.send(settings.events_topic, key=b"user-0", value=bad)
    raw.flush()
    raw.close()

    log = tmp_path / "worker.log"
    store = RedisFeatureStore(redis_client, settings.key_prefix)
    port = free_port()
    worker_settings = settings.model_copy(update={"stream_metrics_port": port})
    with streamrec_process(["stream"], settings_env(worker_settings), log) as worker:
        wait_for(
            lambda: store.stats()["applied"] + store.stats()["duplicates"] >= 70,
            90,
            "the worker to apply every event",
            log,
        )
        dead = consume_all(settings, settings.dlq_topic, expected=len(invalid))
        metrics = wait_for(lambda: scrape(port, "dead_letters_total"), 10, "metrics", log)
        assert worker.poll() is None, "bad input must never stop the worker"

    assert store.stats() == {"applied": 60, "duplicates": 10}
    expected_items: dict[str, dict[str, float]] = {}
    for item in valid:
        weights = expected_items.setdefault(item.user_id, {})
        weights[item.item_id] = weights.get(item.item_id, 0.0) + (
            4.0 if item.event_type == "like" else 1.0
        )
    assert dict(store.iter_user_items()) == expected_items
    history = store.user_history("user-0", limit=3)
    assert [h["timestamp"] for h in history] == sorted(
        (h["timestamp"] for h in history), reverse=True
    )

    assert sorted(record.value for record in dead) == sorted(invalid)
    reasons = {record.value: dict(record.headers)["dlq.reason"].decode() for record in dead}
    assert "UTF-8" in reasons[invalid[0]]
    assert "JSON" in reasons[invalid[1]]
    assert "user_id" in reasons[invalid[2]]
    assert "byte limit" in reasons[invalid[3]]
    codes = {record.value: dict(record.headers)["dlq.reason.code"].decode() for record in dead}
    assert [codes[value] for value in invalid] == [
        "undecodable",
        "invalid_json",
        "schema",
        "too_large",
    ]
    for reason in ("undecodable", "invalid_json", "schema", "too_large"):
        assert metrics[f'streamrec_stream_dead_letters_total{{reason="{reason}"}}'] == 1.0
    assert metrics['streamrec_stream_dead_letters_total{reason="no_value"}'] == 0.0
    assert metrics['streamrec_stream_events_total{event_type="like"}'] == 14.0  # 12 + 2 again
    assert metrics["streamrec_stream_applied_events_total"] == 60.0
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq.source.topic"].decode() == settings.events_topic
        assert int(headers["dlq.source.offset"]) >= 0
