"""Readiness checks of the backing services: each returns a short status or raises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from ingest.errors import ModelNotReady, Unavailable
from ingest.publisher import EventPublisher, KafkaEventPublisher
from recommender.artifacts import ModelSource
from stream.store import FeatureStore


class KafkaProbe:
    """Asks the Kafka bootstrap servers for the cluster description, within a timeout.

    An open port is not enough: a KRaft broker accepts connections before it is unfenced. A
    fresh admin client per check keeps no state that could go stale between probes.
    """

    def __init__(
        self, bootstrap: str, timeout_seconds: float, security: Mapping[str, Any] | None = None
    ) -> None:
        self.bootstrap = bootstrap
        self.timeout_ms = int(timeout_seconds * 1000)
        self.security = dict(security or {})  # TLS/SASL options (ingest.kafka_security)

    def check(self) -> None:
        """Raise Unavailable unless a broker answers a metadata request in time."""
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap.split(","),
                client_id="streamrec-api-readyz",
                bootstrap_timeout_ms=self.timeout_ms,
                request_timeout_ms=self.timeout_ms,
                **self.security,
            )
            try:
                brokers = admin.describe_cluster().get("brokers") or []
            finally:
                admin.close()
        except KafkaError as exc:
            raise Unavailable(f"Kafka at {self.bootstrap} did not answer: {exc}") from exc
        if not brokers:
            raise Unavailable(f"Kafka at {self.bootstrap} lists no live broker yet")


def check_kafka(publisher: EventPublisher | None, probe: KafkaProbe) -> str:
    """Return "ok" if the Kafka the API publishes to answers; ``publisher`` None = not built yet."""
    # A publisher that can check itself (a future EventPublisher.ping) is asked directly; an
    # in-process publisher (a test fake) has no broker behind it to check.
    ping = getattr(publisher, "ping", None)
    if callable(ping):
        ping()
    elif publisher is None or isinstance(publisher, KafkaEventPublisher):
        probe.check()
    return "ok"


def check_redis(store: FeatureStore) -> str:
    """Return "ok" if the feature store answers a ping."""
    store.ping()
    return "ok"


def check_model(models: ModelSource) -> str:
    """Return the version of the model being served; raise ModelNotReady if there is none."""
    model = models.current()
    if model is None:
        raise ModelNotReady("no trained model has been published yet")
    return str(model.version)
