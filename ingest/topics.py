"""Creating the Kafka topics streamrec uses (idempotent)."""

from __future__ import annotations

import contextlib
import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from ingest.kafka_security import client_security
from ingest.settings import Settings

logger = logging.getLogger(__name__)


def ensure_topics(settings: Settings) -> list[str]:
    """Create the events and dead-letter topics if missing; return the names created."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        client_id="streamrec-admin",
        request_timeout_ms=int(settings.kafka_request_timeout_seconds * 1000),
        **client_security(settings),
    )
    try:
        existing = set(admin.list_topics())
        wanted = [settings.events_topic, settings.dlq_topic]
        # Replication: the broker's default.replication.factor (-1; Kafka >= 2.4), so a cluster
        # replicates them (3 on scripts/kafka_cluster.sh) and a single dev broker keeps 1.
        missing = [
            NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=-1)
            for name in wanted
            if name not in existing
        ]
        if missing:
            # Another process may create a topic between our list and our create.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
        created = [topic.name for topic in missing]
        for name in created:
            logger.info("created topic %s (%d partitions)", name, settings.topic_partitions)
        return created
    finally:
        admin.close()
