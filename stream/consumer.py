"""The stream worker's loop: Kafka batches in, features to the store, offsets committed after.

Offsets are committed only once a batch's features are in the store and its dead letters are
acknowledged, and the store applies each event once (by user_id and event_id), so a crash at any
point loses nothing and counts nothing twice. While busy, the offsets of applied batches are
committed at most every ``COMMIT_INTERVAL_S`` (a commit is a broker round trip; what a crash
leaves uncommitted is redelivered and skipped by the store), and at once when the topic is idle,
before a rebalance takes partitions away (``on_partitions_revoked`` waits for the batch in hand)
and when the worker stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from redis import RedisError

from ingest.kafka_security import client_security
from ingest.settings import Settings
from stream.batch import DeadLetter, split_batch
from stream.metrics import WorkerMetrics
from stream.store import FeatureStore, PreparedUpdates, now_ms

logger = logging.getLogger(__name__)

BATCH_MAX_EVENTS = 1000
POLL_MS = 200
COMMIT_INTERVAL_S = 0.25
# A fetch waits up to FETCH_MAX_WAIT_MS for FETCH_MIN_BYTES (~100 events): fewer, fuller round
# trips under load, at most a few milliseconds more latency when the topic is quiet.
FETCH_MIN_BYTES = 16 * 1024
FETCH_MAX_WAIT_MS = 5
RETRY_MAX_SECONDS = 5.0


class StoppedBeforeApplied(Exception):
    """The worker was asked to stop while Redis was unreachable (nothing is committed)."""


@dataclass(frozen=True)
class Batch:
    """One fetched batch, decoded: what to write and which offsets it completes."""

    started: float
    prepared: PreparedUpdates
    dead: list[DeadLetter]
    offsets: dict[TopicPartition, int]


def prepare_batch(
    fetched: dict[TopicPartition, list[ConsumerRecord]], store: FeatureStore
) -> Batch:
    """Decode a fetched batch into dead letters and updates prepared for the store."""
    started = time.perf_counter()
    updates, dead = split_batch(record for records in fetched.values() for record in records)
    offsets = {tp: records[-1].offset + 1 for tp, records in fetched.items()}
    return Batch(started, store.prepare(updates), dead, offsets)


class StreamWorker(ConsumerRebalanceListener):
    """Consumes watch events in batches into a feature store until ``stop()`` is called."""

    def __init__(self, settings: Settings, store: FeatureStore, metrics: WorkerMetrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self._stopping = asyncio.Event()
        self._batch_lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._uncommitted: dict[TopicPartition, int] = {}  # offsets applied, not yet committed
        self._last_commit = -math.inf

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand and leave the consumer group."""
        self._stopping.set()

    async def run(self) -> None:
        """Join the consumer group and handle batches until stopped."""
        bootstrap = self.settings.kafka_bootstrap.split(",")
        security = client_security(self.settings)  # TLS/SASL for hosted Kafka
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=self.settings.stream_group_id,
            client_id=f"{self.settings.stream_group_id}-worker",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=BATCH_MAX_EVENTS,
            fetch_min_bytes=FETCH_MIN_BYTES,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            **security,
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            **security,
        )
        self._consumer.subscribe([self.settings.events_topic], listener=self)
        await self._producer.start()
        await self._consumer.start()
        logger.info("stream worker consuming %s", self.settings.events_topic)
        try:
            await self._loop(self._consumer)
        finally:
            await self._consumer.stop()
            await self._producer.stop()
            logger.info("stream worker stopped")

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        # Two stages: the next batch is decoded while the previous one is written to Redis.
        in_flight: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                # Returns at once with what was fetched (up to the batch size), else waits.
                fetched = await consumer.getmany(timeout_ms=POLL_MS, max_records=BATCH_MAX_EVENTS)
                if not fetched:
                    if self._uncommitted and not self._batch_lock.locked():
                        await self.commit_applied()
                    continue
                batch = prepare_batch(fetched, self.store)
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.create_task(self.finish_batch(batch))
                await asyncio.sleep(0)  # let it start, so that it runs beside the next decode
        finally:
            if in_flight is not None:
                await in_flight
            await self.commit_applied()

    async def finish_batch(self, batch: Batch) -> None:
        """Write a batch's dead letters and features, then commit its offsets (or soon after)."""
        async with self._batch_lock:
            await self.send_dead_letters(batch.dead)
            try:
                applied = await self.apply_with_retry(batch.prepared)
            except StoppedBeforeApplied:
                logger.warning("stopped before a batch reached Redis; it will be redelivered")
                return
            self._uncommitted.update(batch.offsets)
            if time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S:
                await self._commit_uncommitted()
        self.metrics.count_batch(batch.prepared.updates, batch.dead, applied, now_ms())
        self.metrics.batch_seconds.observe(time.perf_counter() - batch.started)
        self._record_lag(batch.offsets)
        logger.debug("batch: %d applied, %d dead", applied, len(batch.dead))

    async def send_dead_letters(self, dead_letters: Sequence[DeadLetter]) -> None:
        """Write each rejected message, unchanged, to the dead-letter topic; wait for the acks."""
        assert self._producer is not None
        pending = []
        for dead in dead_letters:
            source = dead.message
            logger.warning(
                "dead letter %s[%d]@%d (%s): %s",
                source.topic,
                source.partition,
                source.offset,
                dead.code,
                dead.reason,
                extra={
                    "reason_code": dead.code,
                    "source_partition": source.partition,
                    "source_offset": source.offset,
                },
            )
            key, value, headers = dead.record()
            pending.append(
                await self._producer.send(
                    self.settings.dlq_topic, key=key, value=value, headers=headers
                )
            )
        if pending:
            await asyncio.gather(*pending)

    async def apply_with_retry(self, prepared: PreparedUpdates) -> int:
        """Apply updates to the store, retrying with backoff while Redis is unreachable."""
        delay = 0.1
        while True:
            try:
                return await asyncio.to_thread(self.store.apply_prepared, prepared)
            except RedisError as exc:
                if self._stopping.is_set():
                    raise StoppedBeforeApplied from exc
                self.metrics.redis_retries.inc()
                logger.error("Redis write failed (%s); retrying in %.1fs", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def commit_applied(self) -> None:
        """Commit the offsets of every batch applied so far (after the batch in hand)."""
        async with self._batch_lock:
            await self._commit_uncommitted()

    async def _commit_uncommitted(self) -> None:
        # Called holding the batch lock.
        if self._uncommitted:
            offsets, self._uncommitted = self._uncommitted, {}
            self._last_commit = time.monotonic()
            await self._commit(offsets)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # The partitions moved to another worker, which re-reads them from the last commit;
            # the store skips what this batch already applied.
            logger.warning("offset commit failed (%s); the new owner will redeliver", exc)

    def _record_lag(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        for tp, next_offset in offsets.items():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                self.metrics.set_lag(tp.partition, max(0, highwater - next_offset))

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish and commit the batch in hand before the partitions move elsewhere."""
        async with self._batch_lock:
            await self._commit_uncommitted()
            self.metrics.forget_partitions(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Log the partitions this worker now owns."""
        logger.info("assigned partitions %s", sorted(tp.partition for tp in assigned))
