"""The worker's batch histogram exposes exactly what prometheus_client's Histogram would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from stream.metrics import AGE_BUCKETS, BatchHistogram


def exposition(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]


def test_batch_histogram_matches_prometheus_histogram() -> None:
    rng = random.Random(3)
    values = [rng.expovariate(0.01) for _ in range(500)] + [0.0, -2.0, 0.01, 86400.0, 1e12]
    reference, ours = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("age_seconds", "Age", buckets=AGE_BUCKETS, registry=reference)
    for value in values:
        histogram.observe(value)
    batch = BatchHistogram("age_seconds", "Age", AGE_BUCKETS, ours)
    batch.observe_many(values[:100])
    batch.observe_many(values[100:])
    batch.observe_many([])
    assert exposition(ours) == exposition(reference)
