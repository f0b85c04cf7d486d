"""Scenario 3: the stream worker SIGKILLed 10 times at random moments of a 200,000-event replay.

The replay is paced to last REPLAY_SECONDS, longer than the ten kills take (each waits for the
consumer group to hand the dead worker's partitions over, ~10 s): unpaced, a fast worker would
finish the replay before the last kills and those would hit an idle worker. A supervisor waits
until the (re)started worker owns partitions, lets it run for a random 0-2.5 s, then kills it
with SIGKILL — no flush, no commit, no goodbye to the group — and starts
a new one at once. Redeliveries of already-acknowledged messages and some invalid messages are
part of the replay, so dedup and the dead-letter path are crossed by the kills too.
"""

from __future__ import annotations

import random
import re
import threading
import time
from pathlib import Path

import pytest
import redis

from ingest.settings import Settings
from tests.faults.accounting import account
from tests.faults.conftest import Processes
from tests.faults.poison import poison_messages
from tests.faults.traffic import Sent, create_topics, known_events, lag, mix, publish, wait_drained
from tests.processes import wait_for

N_EVENTS = 200_000
REDELIVERED = 2_000
INVALID = 1_000
KILLS = 10
REPLAY_SECONDS = 150.0
SEED = 3

pytestmark = [pytest.mark.faults_ci, pytest.mark.timeout(1200)]


def assignments(log: Path) -> int:
    """How many times workers logged a non-empty partition assignment."""
    return len(re.findall(r"assigned partitions \[\d", log.read_text(errors="replace")))


def test_worker_killed_ten_times_mid_replay_loses_and_doubles_nothing(
    fault_settings: Settings, fault_redis: redis.Redis, processes: Processes
) -> None:
    settings = fault_settings
    create_topics(settings)
    messages = mix(
        known_events(N_EVENTS, SEED, redelivered=REDELIVERED), poison_messages(INVALID, SEED), SEED
    )
    rng = random.Random(SEED)
    started = time.monotonic()
    worker = processes.start(["stream"], settings, "worker")
    log = processes.log("worker")
    wait_for(lambda: assignments(log) >= 1, 90, "the first worker to own partitions", log)

    sent: list[Sent] = []
    publishing = threading.Thread(
        target=lambda: sent.extend(publish(settings, messages, len(messages) / REPLAY_SECONDS))
    )
    publishing.start()
    kills = []
    for number in range(1, KILLS + 1):

        def assigned(n: int = number) -> bool:
            return assignments(log) >= n

        wait_for(assigned, 120, f"worker {number} assigned", log)
        time.sleep(rng.uniform(0.0, 2.5))
        remaining, replaying = lag(settings), publishing.is_alive()
        processes.kill(worker)
        at_seconds = round(time.monotonic() - started, 1)
        kills.append({"at_seconds": at_seconds, "lag": remaining, "replaying": replaying})
        print(f"kill {number}: SIGKILL at {kills[-1]['at_seconds']} s, {remaining} uncommitted")
        worker = processes.start(["stream"], settings, "worker")

    publishing.join(600)
    drain_seconds = wait_drained(settings, 600, lambda: worker.poll() is None)
    duration = time.monotonic() - started
    accounting = account("worker_kills", settings, fault_redis, sent)
    print(accounting.summary())
    print(f"{len(kills)} kills, {duration:.0f} s in all, drained {drain_seconds:.0f} s after")
    accounting.write(duration, {"stream worker SIGKILL": len(kills)}, kills=kills)
    assert len(sent) == len(messages), "Kafka did not acknowledge every message"
    mid_replay = [kill["replaying"] or kill["lag"] > 0 for kill in kills]
    assert all(mid_replay), "a kill came after the replay was published and processed"
    accounting.assert_clean()
