"""A Kafka producer that failed is replaced: kafka-python's idempotent one never recovers."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError

from ingest.errors import Unavailable
from ingest.publisher import KafkaEventPublisher, close_now
from ingest.sources import generate_events


class StuckSender:
    """The producer's I/O thread: records being force-closed."""

    def __init__(self) -> None:
        self.force_closed = False

    def force_close(self) -> None:
        """Stop at once, dropping what is pending."""
        self.force_closed = True


class StuckProducer:
    """A producer whose every send times out, as after a batch expired during an outage."""

    def __init__(self, close_times_out: bool = False) -> None:
        self.closed_with: float | None = None
        self.close_times_out = close_times_out
        self._sender = StuckSender()

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        """Fail like the stuck idempotent producer does."""
        raise KafkaTimeoutError("Timeout waiting for future")

    def close(self, timeout: float | None = None) -> None:
        """Close, or time out flushing first (kafka-python's close flushes before stopping)."""
        self.closed_with = timeout
        if self.close_times_out:
            raise KafkaTimeoutError("Timeout waiting for future")


def test_a_failed_publish_drops_the_producer_so_the_next_one_starts_afresh() -> None:
    publisher = KafkaEventPublisher("127.0.0.1:1", "events")
    stuck = StuckProducer()
    publisher._producer = stuck  # type: ignore[assignment]
    with pytest.raises(Unavailable):
        publisher.publish(list(generate_events(n_events=3)))
    assert publisher._producer is None
    assert stuck.closed_with == 0


def test_closing_a_stuck_producer_stops_its_io_thread_even_when_the_flush_times_out() -> None:
    stuck = StuckProducer(close_times_out=True)
    close_now(stuck)  # type: ignore[arg-type]
    assert stuck._sender.force_closed
