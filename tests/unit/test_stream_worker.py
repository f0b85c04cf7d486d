"""The worker loop's batch handling, on the in-memory store with fake Kafka clients."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from redis import ConnectionError as RedisConnectionError

from ingest.cli import log_formatter
from ingest.schema import validate_event
from ingest.settings import Settings
from stream.consumer import StreamWorker, prepare_batch
from stream.features import FeatureUpdate
from stream.metrics import WorkerMetrics
from stream.store import InMemoryFeatureStore

TOPIC = "watch-events"


def record(partition: int, offset: int, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(TOPIC, partition, offset, 0, 0, b"k", value, None, 1, 1, [])


def event_bytes(n: int, event_type: str = "view") -> bytes:
    data = {"event_id": f"e{n}", "user_id": f"u{n % 3}", "item_id": "i", "event_type": event_type}
    return validate_event({**data, "timestamp": 1000 + n}).to_json_bytes()


class FakeConsumer:
    """Remembers commits; knows a highwater per partition."""

    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def highwater(self, tp: TopicPartition) -> int:
        return 100


class FakeProducer:
    """Acknowledges every send at once and keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, key: Any, value: Any, headers: Any) -> asyncio.Future[None]:
        self.sent.append((topic, value, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FlakyStore(InMemoryFeatureStore):
    """Raises a Redis connection error for the first ``failures`` writes, or until opened."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures
        self.gate = threading.Event()
        self.gate.set()

    def apply(self, updates: Sequence[FeatureUpdate]) -> int:
        self.gate.wait(5)
        if self.failures:
            self.failures -= 1
            raise RedisConnectionError("Redis is down (fake)")
        return super().apply(updates)


def worker_on(store: InMemoryFeatureStore) -> StreamWorker:
    worker = StreamWorker(Settings(), store, WorkerMetrics())
    worker._consumer = FakeConsumer()
    worker._producer = FakeProducer()
    return worker


def sample(worker: StreamWorker, name: str, **labels: str) -> float | None:
    return worker.metrics.registry.get_sample_value(name, labels)


def fetched() -> dict[TopicPartition, list[ConsumerRecord]]:
    return {
        TopicPartition(TOPIC, 0): [record(0, 7, event_bytes(1)), record(0, 8, b"{nope")],
        TopicPartition(TOPIC, 1): [record(1, 3, event_bytes(2, "like")), record(1, 4, None)],
    }


def test_prepare_batch_decodes_and_completes_the_next_offsets() -> None:
    batch = prepare_batch(fetched(), InMemoryFeatureStore())
    assert [u.event_id for u in batch.prepared.updates] == ["e1", "e2"]
    assert [(d.message.offset, d.code) for d in batch.dead] == [
        (8, "invalid_json"),
        (4, "no_value"),
    ]
    assert batch.offsets == {TopicPartition(TOPIC, 0): 9, TopicPartition(TOPIC, 1): 5}


def test_a_batch_is_applied_dead_lettered_committed_and_counted() -> None:
    store = InMemoryFeatureStore()
    worker = worker_on(store)
    asyncio.run(worker.finish_batch(prepare_batch(fetched(), store)))
    assert store.stats() == {"applied": 2, "duplicates": 0}
    sent = worker._producer.sent
    assert [(topic, value) for topic, value, _ in sent] == [
        ("watch-events-dlq", b"{nope"),
        ("watch-events-dlq", None),
    ]
    assert dict(sent[0][2])["dlq.reason.code"] == b"invalid_json"
    assert worker._consumer.commits == [{TopicPartition(TOPIC, 0): 9, TopicPartition(TOPIC, 1): 5}]
    assert sample(worker, "streamrec_stream_events_total", event_type="like") == 1.0
    assert sample(worker, "streamrec_stream_dead_letters_total", reason="no_value") == 1.0
    assert sample(worker, "streamrec_stream_dead_letters_total", reason="schema") == 0.0
    assert sample(worker, "streamrec_stream_applied_events_total") == 2.0
    assert sample(worker, "streamrec_stream_consumer_lag", partition="0") == 91.0
    assert sample(worker, "streamrec_stream_batch_seconds_count") == 1.0
    assert sample(worker, "streamrec_stream_event_age_seconds_count") == 2.0


def test_redis_outages_are_retried_and_only_then_committed() -> None:
    store = FlakyStore(failures=2)
    worker = worker_on(store)
    asyncio.run(worker.finish_batch(prepare_batch(fetched(), store)))
    assert store.stats()["applied"] == 2
    assert len(worker._consumer.commits) == 1
    assert sample(worker, "streamrec_stream_redis_retries_total") == 2.0


def test_stopping_while_redis_is_down_commits_nothing() -> None:
    store = FlakyStore(failures=1000)
    worker = worker_on(store)

    async def stop_soon() -> None:
        await asyncio.sleep(0.2)
        worker.stop()

    async def run() -> None:
        await asyncio.gather(worker.finish_batch(prepare_batch(fetched(), store)), stop_soon())

    asyncio.run(asyncio.wait_for(run(), timeout=5))
    assert worker._consumer.commits == []


def test_a_revocation_waits_for_the_batch_in_hand() -> None:
    store = FlakyStore()
    store.gate.clear()
    worker = worker_on(store)
    order: list[str] = []

    async def revoke() -> None:
        await asyncio.sleep(0.1)
        store.gate.set()
        await worker.on_partitions_revoked({TopicPartition(TOPIC, 0)})
        order.append("revoked")

    async def handle() -> None:
        await worker.finish_batch(prepare_batch(fetched(), store))
        order.append("committed")

    async def run() -> None:
        batch = asyncio.create_task(handle())
        await asyncio.sleep(0)
        await revoke()
        await batch

    asyncio.run(run())
    assert order == ["committed", "revoked"]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_log_lines_are_text_or_one_json_object(log_format: str) -> None:
    record = logging.LogRecord(
        "stream.consumer", logging.WARNING, "f", 1, "dead letter %s", ("x",), None
    )
    record.created = 1.25
    line = log_formatter(log_format).format(record)
    if log_format == "json":
        assert json.loads(line)["message"] == "dead letter x"
        assert json.loads(line)["level"] == "WARNING"
        assert json.loads(line)["time"] == "1970-01-01T00:00:01.250Z"
    else:
        assert line.endswith("WARNING stream.consumer: dead letter x")
