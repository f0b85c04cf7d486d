"""Prometheus metrics of the stream worker, in a registry of its own (served over HTTP)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from ingest.schema import EVENT_TYPES
from stream.batch import REASON_CODES, DeadLetter
from stream.features import FeatureUpdate

BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0, 3600.0, 86400.0)


class WorkerMetrics:
    """What the worker counts: events in, dead letters, batches, consumer lag, event age."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_in = Counter(
            "streamrec_stream_events", "Valid events consumed, by type", ["event_type"], registry=r
        )
        self.dead_letters = Counter(
            "streamrec_stream_dead_letters",
            "Messages written to the dead-letter topic, by reason code",
            ["reason"],
            registry=r,
        )
        self.applied = Counter(
            "streamrec_stream_applied_events", "Events new to the feature store", registry=r
        )
        self.redis_retries = Counter(
            "streamrec_stream_redis_retries", "Failed Redis writes that were retried", registry=r
        )
        self.batch_seconds = Histogram(
            "streamrec_stream_batch_seconds",
            "Time to handle one batch: decode, dead letters, Redis, offset commit",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.event_age = Histogram(
            "streamrec_stream_event_age_seconds",
            "Wall clock when applied minus event time",
            buckets=AGE_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "streamrec_stream_consumer_lag",
            "Messages in a partition after the last one handled",
            ["partition"],
            registry=r,
        )
        for event_type in EVENT_TYPES:
            self.events_in.labels(event_type)
        for reason in REASON_CODES:
            self.dead_letters.labels(reason)

    def count_batch(
        self,
        updates: Sequence[FeatureUpdate],
        dead: Iterable[DeadLetter],
        applied: int,
        now_ms: int,
    ) -> None:
        """Count one handled batch: events by type, dead letters by reason, event ages."""
        for event_type, n in Tally(u.event_type for u in updates).items():
            self.events_in.labels(event_type).inc(n)
        for reason, n in Tally(d.code for d in dead).items():
            self.dead_letters.labels(reason).inc(n)
        self.applied.inc(applied)
        observe = self.event_age.observe
        for update in updates:
            observe((now_ms - update.timestamp_ms) / 1000)

    def set_lag(self, partition: int, lag: int) -> None:
        """Record how far this worker is behind in one partition."""
        self.lag.labels(str(partition)).set(lag)

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Drop the lag of partitions this worker no longer owns."""
        for partition in partitions:
            try:
                self.lag.remove(str(partition))
            except KeyError:
                continue

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics over HTTP from a daemon thread (port 0: do nothing)."""
        if port:
            start_http_server(port, addr=host, registry=self.registry)
