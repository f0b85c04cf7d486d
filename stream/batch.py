"""Turning a batch of raw Kafka messages into feature updates and dead letters (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ingest.errors import InvalidEvent
from ingest.schema import MAX_EVENT_BYTES, decode_event
from stream.features import FeatureUpdate, feature_update

# Machine-readable dead-letter reasons (header ``dlq.reason.code``, metric label ``reason``).
NO_VALUE, TOO_LARGE, UNDECODABLE, INVALID_JSON, SCHEMA = (
    "no_value",
    "too_large",
    "undecodable",
    "invalid_json",
    "schema",
)
REASON_CODES = (NO_VALUE, TOO_LARGE, UNDECODABLE, INVALID_JSON, SCHEMA)
# A dead letter bigger than this (key + value) is written cut, so that it fits Kafka's default
# 1 MiB message limit with its headers: a poison pill must not stop the worker. The header
# ``dlq.value.truncated_from`` then gives the value's original size in bytes.
DEAD_LETTER_MAX_BYTES = 1_000_000
TRUNCATED_FROM_HEADER = "dlq.value.truncated_from"


class Message(Protocol):
    """What the worker reads of a Kafka message (aiokafka's ConsumerRecord has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class RawMessage:
    """One message as read from Kafka (for tests and callers without a ConsumerRecord)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class DeadLetter:
    """A message that is not a valid event, with the reason it was rejected."""

    message: Message
    reason: str
    code: str

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers that tell where the message came from and why it was rejected."""
        source = self.message
        return [
            ("dlq.reason", self.reason.encode("utf-8")),
            ("dlq.reason.code", self.code.encode("ascii")),
            ("dlq.source.topic", source.topic.encode("utf-8")),
            ("dlq.source.partition", str(source.partition).encode("ascii")),
            ("dlq.source.offset", str(source.offset).encode("ascii")),
        ]

    def record(self) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
        """The key, value and headers to write: the original, or its beginning if too large."""
        key, value, headers = self.message.key, self.message.value, self.headers()
        if len(key or b"") + len(value or b"") <= DEAD_LETTER_MAX_BYTES:
            return key, value, headers
        if value is not None:
            headers.append((TRUNCATED_FROM_HEADER, str(len(value)).encode("ascii")))
            value = value[:MAX_EVENT_BYTES]
        return (key[:1024] if key else key), value, headers


def reason_code(value: bytes) -> str:
    """Classify a value that ``decode_event`` rejected (only called for bad messages)."""
    if len(value) > MAX_EVENT_BYTES:
        return TOO_LARGE
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return UNDECODABLE
    try:
        json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return INVALID_JSON
    return SCHEMA


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def split_batch(messages: Iterable[Message]) -> tuple[list[FeatureUpdate], list[DeadLetter]]:
    """Decode every message: valid events become updates, the rest dead letters."""
    updates: list[FeatureUpdate] = []
    dead: list[DeadLetter] = []
    for message in messages:
        if message.value is None:
            dead.append(DeadLetter(message, "message has no value", NO_VALUE))
            continue
        try:
            updates.append(feature_update(decode_event(message.value)))
        except InvalidEvent as exc:
            dead.append(DeadLetter(message, exc.message, reason_code(message.value)))
    return updates, dead
