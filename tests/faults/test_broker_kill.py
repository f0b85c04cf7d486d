"""Scenario 1: the Kafka broker SIGKILLed and restarted during ingestion.

(a) Through the HTTP API: gunicorn workers publish with acks=all; while the broker is down they
answer 503 + Retry-After, and the clients retry. Accepted = the events answered 202: every one
must be applied exactly once. (b) Through ``streamrec replay``: the CLI either finishes or fails
loudly naming how many events were acknowledged; those must arrive, and replaying the same file
again (ids come from the content) completes the books without counting anything twice.

The broker and Redis are private to the test (never the shared ones other tests use).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from stream import keys
from tests.faults.accounting import account
from tests.faults.clients import (
    PostStats,
    ingest_over_http,
    start_api,
    write_replay_csv,
)
from tests.faults.conftest import Processes
from tests.faults.services import (
    PrivateKafka,
    PrivateRedis,
    private_settings,
    running,
)
from tests.faults.traffic import create_topics, known_events, wait_drained
from tests.processes import wait_for

N_EVENTS = 30_000
REDELIVERED = 500
DOWN_SECONDS = 3.0  # broker dead this long before the restart begins (a restart takes ~6 s more)
SEED = 11

pytestmark = [pytest.mark.faults_ci, pytest.mark.timeout(900)]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateKafka]:
    kafka = PrivateKafka(tmp_path / "state")
    with running(kafka):
        yield kafka


def kill_and_restart(broker: PrivateKafka) -> dict[str, float]:
    """SIGKILL the broker, leave it dead a while, start it again; return the timings."""
    killed = time.monotonic()
    broker.kill()
    time.sleep(DOWN_SECONDS)
    restart_seconds = broker.start()
    return {
        "broker_down_seconds": round(time.monotonic() - killed, 1),
        "restart_seconds": round(restart_seconds, 1),
    }


def test_broker_killed_during_http_ingestion_loses_nothing(
    broker: PrivateKafka, redis_server: PrivateRedis, processes: Processes, tmp_path: Path
) -> None:
    settings = private_settings("broker-kill-http", broker.bootstrap, redis_server.url, tmp_path)
    create_topics(settings)
    messages = known_events(N_EVENTS, SEED, redelivered=REDELIVERED)
    started = time.monotonic()
    worker = processes.start(["stream"], settings, "worker")
    start_api(processes, settings)

    stats, progress, sent = PostStats(), [0], []
    base = f"http://127.0.0.1:{settings.api_port}"
    posting = threading.Thread(
        target=lambda: sent.extend(ingest_over_http(base, messages, stats, progress=progress))
    )
    posting.start()
    wait_for(lambda: progress[0] >= len(messages) // 4, 120, "a quarter accepted")
    accepted_at_kill = progress[0]
    timings = kill_and_restart(broker)
    accepted_at_restart = progress[0]
    posting.join(600)
    drain_seconds = wait_drained(settings, 300, lambda: worker.poll() is None)
    duration = time.monotonic() - started

    client = redis.Redis.from_url(settings.redis_url)
    accounting = account("broker_kill_http", settings, client, sent)
    print(accounting.summary())
    print(
        f"HTTP clients saw {stats.as_dict()}; {timings}; accepted at the kill {accepted_at_kill},"
    )
    print(f"by the end of the restart {accepted_at_restart}; drained {drain_seconds:.0f} s later")
    accounting.write(
        duration,
        {"Kafka broker SIGKILL + restart": 1},
        http=stats.as_dict(),
        accepted_at_kill=accepted_at_kill,
        **timings,
    )
    assert len(sent) == len(messages), "not every event was accepted in the end"
    assert accepted_at_kill < len(messages), "the kill came after ingestion had finished"
    assert set(stats.statuses) <= {202, 503}, f"answers other than 202 and 503: {stats.statuses}"
    accounting.assert_clean()


def acknowledged_count(output: str) -> int:
    """How many events a failed replay says were acknowledged before it stopped."""
    found = re.search(r"the first (\d+) events were acknowledged", output)
    assert found, f"the failed replay did not say how many events were acknowledged:\n{output}"
    return int(found.group(1))


def test_broker_killed_during_replay_cli_loses_nothing(
    broker: PrivateKafka, redis_server: PrivateRedis, processes: Processes, tmp_path: Path
) -> None:
    settings = private_settings("broker-kill-replay", broker.bootstrap, redis_server.url, tmp_path)
    create_topics(settings)
    csv = tmp_path / "events.csv"
    in_file = write_replay_csv(csv, N_EVENTS, SEED)
    started = time.monotonic()
    worker = processes.start(["stream"], settings, "worker")
    replay = processes.start(
        ["replay", str(csv), "--rate", "2500", "--quiet"], settings, "replay-1"
    )
    client = redis.Redis.from_url(settings.redis_url)
    stats_key = keys.stats_key(settings.key_prefix)
    applied = lambda: int(client.hget(stats_key, "applied") or 0)  # noqa: E731
    wait_for(lambda: applied() >= N_EVENTS // 4, 120, "a quarter applied", processes.log("worker"))
    timings = kill_and_restart(broker)
    exit_code = replay.wait(300)
    output = processes.log("replay-1").read_text(errors="replace")
    print(f"first replay exited {exit_code}: {output.strip()[-600:]}")

    if exit_code == 0:
        assert f'"published": {N_EVENTS}' in output, output
        sent, reruns = list(in_file), 0
    else:
        assert "streamrec replay:" in output, "the replay failed without saying why"
        acknowledged = acknowledged_count(output)
        sent = in_file[:acknowledged]
        drain_first = wait_drained(settings, 300, lambda: worker.poll() is None)
        # Only "nothing reported is missing" is checked here: events of the batch that failed
        # may have been written too (the error says so), so the books balance after the rerun.
        first = account("broker_kill_replay_reported", settings, client, sent)
        print(f"after the failed run (drained in {drain_first:.0f} s): {acknowledged} reported")
        print(f"acknowledged, {first.applied_once} of them applied, {first.lost} lost")
        assert first.lost == 0, "events the replay reported as acknowledged did not arrive"
        rerun = processes.start(["replay", str(csv), "--quiet"], settings, "replay-2")
        assert rerun.wait(300) == 0, processes.log("replay-2").read_text(errors="replace")
        sent, reruns = sent + list(in_file), 1

    drain_seconds = wait_drained(settings, 300, lambda: worker.poll() is None)
    duration = time.monotonic() - started
    accounting = account("broker_kill_replay", settings, client, sent)
    print(accounting.summary())
    print(f"{timings}; replay reruns {reruns}; drained {drain_seconds:.0f} s after")
    accounting.write(
        duration,
        {"Kafka broker SIGKILL + restart": 1},
        replay_exit_code=exit_code,
        replay_reruns=reruns,
        **timings,
    )
    accounting.assert_clean()
