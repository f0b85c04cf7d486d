"""Scenario 6: 10,000 adversarial messages mixed into a valid stream, produced raw to Kafka.

Invalid UTF-8, invalid and deeply nested JSON, huge numbers, wrong types, missing fields,
strings up to 1 MiB, tombstones, and valid events with hostile ids (hash-tag braces, ``%``,
``:``, emoji, 128 characters). One worker runs throughout and must never stop; every valid
event is applied once, every invalid message is in the DLQ with its reason code.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import redis

from ingest.settings import Settings
from tests.faults.accounting import account
from tests.faults.conftest import Processes
from tests.faults.poison import poison_messages
from tests.faults.traffic import VALID, create_topics, known_events, mix, publish, wait_drained
from tests.processes import wait_for

N_VALID = 20_000
N_POISON = 10_000
TRICKY_VALID = 1_000
SEED = 6

pytestmark = [pytest.mark.faults_ci, pytest.mark.timeout(900)]


def test_poison_is_dead_lettered_with_its_reason_and_the_worker_never_stops(
    fault_settings: Settings, fault_redis: redis.Redis, processes: Processes
) -> None:
    settings = fault_settings
    create_topics(settings)
    poison = poison_messages(N_POISON, SEED, tricky_valid=TRICKY_VALID)
    messages = mix(known_events(N_VALID, SEED, redelivered=500), poison, SEED)
    started = time.monotonic()
    worker = processes.start(["stream"], settings, "worker")
    log = processes.log("worker")
    wait_for(lambda: "assigned partitions [0" in log.read_text(), 90, "the worker to start", log)
    sent = publish(settings, messages)
    wait_drained(settings, 600, lambda: worker.poll() is None)
    duration = time.monotonic() - started
    alive = worker.poll() is None
    accounting = account("poison", settings, fault_redis, sent)
    by_reason = Counter(m.expect for m in poison if m.expect != VALID)
    print(accounting.summary())
    print(f"poison by reason: {dict(by_reason)}; worker alive at the end: {alive}")
    accounting.write(
        duration,
        {"poison messages": N_POISON},
        poison_by_reason=dict(by_reason),
        worker_alive=alive,
    )
    assert len(sent) == len(messages), "Kafka did not acknowledge every message"
    assert alive, "the worker stopped"
    assert accounting.invalid_messages == N_POISON
    assert accounting.valid_events == N_VALID + TRICKY_VALID
    assert accounting.dlq_truncated > 0, "no 1 MiB message reached the DLQ cut"
    accounting.assert_clean()
