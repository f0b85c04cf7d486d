"""The faust-streaming engine (``STREAMREC_STREAM_ENGINE=faust``): one agent over raw bytes.

The default engine is the aiokafka consumer in ``stream.consumer`` (faust measured ~7,000
events/s on this 2-core machine with an agent doing nothing; see README). This one keeps the
faust app the project started with: the same decoding (``split_batch``), the same idempotent
store writes and dead letters; no worker metrics. Offsets are committed only for events whose
features are in Redis (``take_events`` acks a batch after the loop body finished).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Sequence
from typing import Any

import faust
from faust.types.auth import CredentialsT
from redis import RedisError

from ingest.kafka_security import ssl_context
from ingest.settings import SASL_PROTOCOLS, Settings
from stream.batch import DeadLetter, RawMessage, split_batch
from stream.store import FeatureStore

logger = logging.getLogger(__name__)

BATCH_MAX_EVENTS = 1000
BATCH_WITHIN_SECONDS = 0.05
RETRY_MAX_SECONDS = 5.0


def create_stream_app(settings: Settings, store: FeatureStore) -> faust.App:
    """Build the faust app with its topics and the agent that applies watch events."""
    app = faust.App(
        settings.stream_group_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="streamrec-faust-"),
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_acks=-1,
    )
    events_topic = app.topic(
        settings.events_topic, key_serializer="raw", value_serializer="raw", internal=False
    )
    dlq_topic = app.topic(settings.dlq_topic, key_serializer="raw", value_serializer="raw")

    @app.agent(events_topic, name="apply_watch_events")
    async def apply_watch_events(stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX_EVENTS, within=BATCH_WITHIN_SECONDS):
            updates, dead_letters = split_batch(to_raw_message(event) for event in events)
            await send_dead_letters(dlq_topic, dead_letters)
            applied = await apply_with_retry(store, updates)
            logger.debug(
                "batch of %d: %d applied, %d dead letters", len(events), applied, len(dead_letters)
            )

    return app


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """Return the TLS/SASL credentials of the Kafka settings in faust's terms (None: plaintext)."""
    context = ssl_context(settings)
    if settings.kafka_security_protocol in SASL_PROTOCOLS:
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context is not None else None


def to_raw_message(event: Any) -> RawMessage:
    """Copy what the worker needs out of a faust event."""
    message = event.message
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
    )


async def send_dead_letters(dlq_topic: Any, dead_letters: Sequence[DeadLetter]) -> None:
    """Write each rejected message, unchanged, to the dead-letter topic and wait for the acks."""
    pending = []
    for dead in dead_letters:
        logger.warning(
            "dead letter %s[%d]@%d: %s",
            dead.message.topic,
            dead.message.partition,
            dead.message.offset,
            dead.reason,
        )
        pending.append(
            await dlq_topic.send(
                key=dead.message.key, value=dead.message.value, headers=dead.headers()
            )
        )
    for future in pending:
        await future


async def apply_with_retry(store: FeatureStore, updates: Sequence[Any]) -> int:
    """Apply updates to the store, retrying with backoff while Redis is unreachable."""
    delay = 0.1
    while True:
        try:
            return await asyncio.to_thread(store.apply, updates)
        except RedisError as exc:
            logger.error("Redis write failed (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
