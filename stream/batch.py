"""Turning a batch of raw Kafka messages into feature updates and dead letters (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ingest.errors import InvalidEvent
from ingest.schema import decode_event
from stream.features import FeatureUpdate, feature_update


@dataclass(frozen=True)
class RawMessage:
    """One message as read from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class DeadLetter:
    """A message that is not a valid event, with the reason it was rejected."""

    message: RawMessage
    reason: str

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers that tell where the message came from and why it was rejected."""
        source = self.message
        return [
            ("dlq.reason", self.reason.encode("utf-8")),
            ("dlq.source.topic", source.topic.encode("utf-8")),
            ("dlq.source.partition", str(source.partition).encode("ascii")),
            ("dlq.source.offset", str(source.offset).encode("ascii")),
        ]


def split_batch(messages: Iterable[RawMessage]) -> tuple[list[FeatureUpdate], list[DeadLetter]]:
    """Decode every message: valid events become updates, the rest dead letters."""
    updates: list[FeatureUpdate] = []
    dead: list[DeadLetter] = []
    for message in messages:
        if message.value is None:
            dead.append(DeadLetter(message, "message has no value"))
            continue
        try:
            updates.append(feature_update(decode_event(message.value)))
        except InvalidEvent as exc:
            dead.append(DeadLetter(message, exc.message))
    return updates, dead
