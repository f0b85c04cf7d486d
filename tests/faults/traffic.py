"""The known traffic of a fault scenario: build it, publish it, wait for it, read the DLQ back.

    messages = known_events(n_events=200_000, seed=3)      # valid events + redeliveries
    sent = publish(settings, messages)                      # what Kafka acknowledged, and where
    wait_drained(settings, timeout=300)                     # the group committed every offset
    dead = read_dead_letters(settings)                      # the DLQ topic, headers decoded

Every message keeps what the scenario expects of it (``Outgoing.expect``: ``VALID`` or the dead
letter reason code), and ``publish`` records the partition and offset Kafka gave it, so the
accounting can match each dead letter to its source exactly (``dlq.source.partition/offset``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ingest.schema import WatchEvent
from ingest.settings import Settings
from ingest.sources import generate_events
from stream.batch import TRUNCATED_FROM_HEADER as TRUNCATED

VALID = "valid"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # test topics take "1 MiB string" messages with headroom


@dataclass(frozen=True)
class Outgoing:
    """One message a scenario publishes, and what should become of it."""

    key: bytes | None
    value: bytes | None
    expect: str = VALID  # VALID, or the dead-letter reason code (stream.batch.REASON_CODES)


@dataclass(frozen=True)
class Sent:
    """A message Kafka acknowledged (acks=all), with where it landed."""

    message: Outgoing
    partition: int
    offset: int


@dataclass(frozen=True)
class DeadLetterRecord:
    """One message read back from the dead-letter topic."""

    key: bytes | None
    value: bytes | None
    reason: str
    reason_code: str
    source_partition: int
    source_offset: int
    truncated_from: int | None  # the original size, when the value was cut to fit the DLQ


def event_message(event: WatchEvent) -> Outgoing:
    """The wire form of a valid event (key = user_id, as the producers write it)."""
    return Outgoing(event.user_id.encode("utf-8"), event.to_json_bytes())


def known_events(
    n_events: int, seed: int, n_users: int = 3000, n_items: int = 800, redelivered: int = 2000
) -> list[Outgoing]:
    """Seeded realistic events; ``redelivered`` of them are sent again later (same event_id)."""
    rng = random.Random(seed)
    events = []
    for event in generate_events(n_users, n_items, n_events, seed):
        if event.event_type == "watch" and rng.random() < 0.5:  # some partial watches
            duration = float(rng.randrange(60, 7200))
            watched = round(duration * rng.random(), 1)
            event = event.model_copy(
                update={"watch_seconds": watched, "duration_seconds": duration}
            )
        events.append(event_message(event))
    # A producer retrying after a lost acknowledgement: the same message, somewhat later.
    places = [float(i) for i in range(len(events))]
    for original in rng.sample(range(n_events), min(redelivered, n_events)):
        events.append(events[original])
        places.append(rng.uniform(original + 0.5, n_events))
    order = sorted(range(len(events)), key=places.__getitem__)
    events = [events[i] for i in order]
    return events


def mix(valid: Sequence[Outgoing], extra: Sequence[Outgoing], seed: int) -> list[Outgoing]:
    """Interleave ``extra`` into ``valid`` at random places, keeping each one's order."""
    rng = random.Random(seed)
    slots = sorted(rng.randrange(len(valid) + 1) for _ in extra)
    mixed: list[Outgoing] = []
    taken = 0
    for slot, message in zip(slots, extra, strict=True):
        mixed.extend(valid[taken:slot])
        mixed.append(message)
        taken = slot
    return mixed + list(valid[taken:])


def create_topics(settings: Settings) -> None:
    """Create the events topic taking messages up to MAX_MESSAGE_BYTES, and the DLQ topic.

    The DLQ keeps Kafka's default limit (1 MiB), so the largest poison messages also prove that
    a dead letter too large for the DLQ is written cut (``dlq.value.truncated_from``).
    """
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    config = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
    partitions = settings.topic_partitions
    try:
        admin.create_topics(
            [
                NewTopic(settings.events_topic, partitions, 1, topic_configs=config),
                NewTopic(settings.dlq_topic, partitions, 1),
            ]
        )
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def publish(
    settings: Settings,
    messages: Iterable[Outgoing],
    rate_per_second: float = 0.0,
    on_progress: Callable[[int], None] | None = None,
) -> list[Sent]:
    """Produce raw messages (acks=all, idempotent, ordered); return the acknowledged ones."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=MAX_MESSAGE_BYTES,
        retries=2**31 - 1,
        delivery_timeout_ms=600_000,
    )
    pending, sent, started = [], [], time.monotonic()
    try:
        for number, message in enumerate(messages, start=1):
            future = producer.send(settings.events_topic, key=message.key, value=message.value)
            pending.append((message, future))
            if number % 5000 == 0:
                sent += _acknowledged(producer, pending)
                pending = []
                if on_progress:
                    on_progress(len(sent))
            ahead = (
                number / rate_per_second - (time.monotonic() - started) if rate_per_second else 0
            )
            if ahead > 0:
                time.sleep(ahead)
        sent += _acknowledged(producer, pending)
    finally:
        producer.close(timeout=30)
    return sent


def _acknowledged(producer: KafkaProducer, pending: list) -> list[Sent]:
    producer.flush()
    acked = []
    for message, future in pending:
        try:
            metadata = future.get(timeout=60)
        except KafkaError:
            continue  # not acknowledged: not accepted, so not expected anywhere
        acked.append(Sent(message, metadata.partition, metadata.offset))
    return acked


def lag(settings: Settings) -> int:
    """Messages of the events topic the worker group has not committed yet."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","), enable_auto_commit=False
    )
    try:
        group = settings.stream_group_id
        committed = admin.list_group_offsets({group: None}).get(group, {})
        partitions = [
            TopicPartition(settings.events_topic, p)
            for p in _partitions(consumer, settings.events_topic)
        ]
        ends = consumer.end_offsets(partitions)
        return sum(
            end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
            for tp, end in ends.items()
        )
    finally:
        consumer.close()
        admin.close()


def wait_drained(
    settings: Settings, timeout: float, is_alive: Callable[[], bool] | None = None
) -> float:
    """Wait until the worker group committed every message of the events topic; return seconds."""
    started = time.monotonic()
    while (remaining := lag(settings)) > 0:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{remaining} messages still uncommitted after {timeout}s")
        if is_alive is not None and not is_alive():
            raise AssertionError("the stream worker died before the topic was drained")
        time.sleep(0.5)
    return time.monotonic() - started


def read_dead_letters(settings: Settings) -> list[DeadLetterRecord]:
    """Read the whole dead-letter topic, from the beginning to its current end."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=MAX_MESSAGE_BYTES * 2,
    )
    try:
        partitions = [
            TopicPartition(settings.dlq_topic, p) for p in _partitions(consumer, settings.dlq_topic)
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[DeadLetterRecord] = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError("timed out reading the dead-letter topic")
            for batch in consumer.poll(timeout_ms=1000).values():
                records += [_dead_letter(record) for record in batch]
        return records
    finally:
        consumer.close()


def _dead_letter(record: Any) -> DeadLetterRecord:  # a kafka-python ConsumerRecord
    headers = {name: value.decode("utf-8") for name, value in record.headers}
    return DeadLetterRecord(
        key=record.key,
        value=record.value,
        reason=headers.get("dlq.reason", ""),
        reason_code=headers.get("dlq.reason.code", ""),
        source_partition=int(headers.get("dlq.source.partition", "-1")),
        source_offset=int(headers.get("dlq.source.offset", "-1")),
        truncated_from=int(headers[TRUNCATED]) if TRUNCATED in headers else None,
    )


def _partitions(consumer: KafkaConsumer, topic: str) -> list[int]:
    deadline = time.monotonic() + 30
    while not (found := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            raise AssertionError(f"topic {topic} has no partitions")
        time.sleep(0.2)
    return sorted(found)
