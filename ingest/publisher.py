"""Publishing events to Kafka: an interface, the kafka-python implementation and a fake."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ingest.errors import Unavailable
from ingest.kafka_security import client_security
from ingest.schema import WatchEvent
from ingest.settings import Settings


class EventPublisher(ABC):
    """Writes validated events to the events topic, keyed by user_id."""

    @abstractmethod
    def publish(self, events: Sequence[WatchEvent]) -> None:
        """Send events and return only once the broker acknowledged every one."""

    def close(self) -> None:  # noqa: B027 - optional hook, most publishers hold nothing
        """Release connections (no-op by default)."""


class KafkaEventPublisher(EventPublisher):
    """kafka-python producer with acks=all, retries and idempotence (no duplicates on retry)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        timeout_seconds: float = 10.0,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_seconds = timeout_seconds
        self.security = dict(security or {})  # TLS/SASL options (ingest.kafka_security)
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def _connected_producer(self) -> KafkaProducer:
        # Created on first use: it connects, and it must be created after gunicorn forks.
        with self._lock:
            if self._producer is None:
                timeout_ms = int(self.timeout_seconds * 1000)
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap.split(","),
                    acks="all",
                    retries=2**31 - 1,
                    enable_idempotence=True,
                    linger_ms=2,
                    request_timeout_ms=timeout_ms,
                    delivery_timeout_ms=timeout_ms + 5000,
                    max_block_ms=timeout_ms,
                    bootstrap_timeout_ms=timeout_ms,
                    reconnect_backoff_max_ms=1000,
                    client_id="streamrec-publisher",
                    **self.security,
                )
            return self._producer

    def publish(self, events: Sequence[WatchEvent]) -> None:
        """Send events and return only once the broker acknowledged every one."""
        producer: KafkaProducer | None = None
        try:
            producer = self._connected_producer()
            futures = [
                producer.send(
                    self.topic, key=event.user_id.encode("utf-8"), value=event.to_json_bytes()
                )
                for event in events
            ]
            producer.flush(timeout=self.timeout_seconds)
            for future in futures:
                future.get(timeout=self.timeout_seconds)
        except KafkaError as exc:
            if producer is not None:
                self._discard(producer)
            raise Unavailable(f"Kafka did not acknowledge the events: {exc}") from exc

    def _discard(self, producer: KafkaProducer) -> None:
        """Drop a producer that failed, so that the next publish starts a new one."""
        # kafka-python's idempotent producer stays stuck for good once a batch expired
        # unacknowledged (a broker down longer than the delivery timeout), even after the broker
        # is back (tests/faults/test_broker_kill.py). A new producer gets a new producer id.
        with self._lock:
            if self._producer is not producer:
                return  # another thread replaced it already
            self._producer = None
        close_now(producer)

    def close(self) -> None:
        """Flush and close the producer, if one was created."""
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=self.timeout_seconds)
                self._producer = None


def close_now(producer: KafkaProducer) -> None:
    """Close a failed producer without waiting for the records it still holds."""
    try:
        producer.close(timeout=0)
    except KafkaError:
        # close() flushes first and, when that times out, returns before stopping its I/O
        # thread and sockets: stop them here, dropping what is pending (the caller failed).
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()


class FakeEventPublisher(EventPublisher):
    """Keeps published events in a list; ``fail`` makes the next publish raise Unavailable."""

    def __init__(self) -> None:
        self.events: list[WatchEvent] = []
        self.fail = False

    def publish(self, events: Sequence[WatchEvent]) -> None:
        """Record events, or raise Unavailable when told to fail."""
        if self.fail:
            raise Unavailable("Kafka is unavailable (fake)")
        self.events.extend(events)


def kafka_publisher(settings: Settings) -> KafkaEventPublisher:
    """Build the publisher a process uses from its Settings."""
    return KafkaEventPublisher(
        settings.kafka_bootstrap,
        settings.events_topic,
        settings.kafka_request_timeout_seconds,
        security=client_security(settings),
    )
