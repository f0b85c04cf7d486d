"""Scenario 5: the trainer SIGKILLed mid-training and at each step of a publish.

The API (gunicorn, 2 workers) answers throughout; every answer must be a 200 from the model
that was published before the kills. A killed trainer leaves a half-written staging directory,
a complete but unpublished version, or a half-written LATEST temp file behind: none of them is
ever served, also not by a freshly started API, and the next trainer run publishes normally
(once the dead trainer's lock expired: ``train_lock_ttl_seconds``).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
import requests

from ingest.settings import Settings
from ingest.sources import generate_events
from recommender.artifacts import TEMP_PREFIX, latest_version
from stream.features import feature_update
from stream.redis_store import RedisFeatureStore
from tests.e2e.test_pipeline import _ready, free_port
from tests.faults.accounting import write_result
from tests.faults.conftest import Processes
from tests.processes import settings_env, stop_process, wait_for

pytestmark = [pytest.mark.faults_ci, pytest.mark.timeout(600)]

LOCK_TTL_SECONDS = 10
PUBLISH_STAGES = ("writing", "renamed", "latest")


@pytest.fixture
def settings(fault_settings: Settings) -> Settings:
    return fault_settings.model_copy(
        update={
            "api_port": free_port(),
            "api_workers": 2,
            "als_factors": 32,
            "als_iterations": 60,  # a training long enough to be killed in the middle
            "model_check_seconds": 0.5,
            "train_lock_ttl_seconds": LOCK_TTL_SECONDS,
            "access_log": False,
        }
    )


class Hammer:
    """Asks the API for recommendations in a loop; records (status, model_version)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.answers: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                for path in ("/v1/users/user-7/recommendations?k=5", "/v1/items/item-3/similar"):
                    try:
                        response = session.get(self.base + path, timeout=5)
                        version = response.json().get("model_version")
                        self.answers.append((response.status_code, version))
                    except requests.RequestException as exc:
                        self.answers.append((0, type(exc).__name__))

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def trainer(settings: Settings, stage: str, log: Path) -> subprocess.Popen[bytes]:
    """Start the pausing trainer wrapper (tests/faults/pausing_trainer.py) at ``stage``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.faults.pausing_trainer", stage, "--quiet", "--force"],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def reached(log: Path, stage: str, count: int) -> bool:
    """Whether the trainer log shows ``stage`` announced ``count`` times."""
    return log.read_text(errors="replace").count(f"FAULT-STAGE {stage}\n") >= count


def kill_at(settings: Settings, stage: str, log: Path, processes: Processes) -> float:
    """Run trainers until one reaches ``stage`` (a dead one's lock expires); SIGKILL it there."""
    started, seen = time.monotonic(), log.read_text().count(f"FAULT-STAGE {stage}\n")
    while True:
        process = trainer(settings, stage, log)
        processes.started.append(process)
        while process.poll() is None and not reached(log, stage, seen + 1):
            time.sleep(0.05)
        if process.poll() is None:
            break
        assert "already running" in log.read_text()[-2000:], log.read_text()[-2000:]
        time.sleep(1)  # the lock of the trainer killed before is still held: retry
    if stage == "training":
        time.sleep(0.5)  # into the fit
        assert process.poll() is None, "the training ended before the kill"
    processes.kill(process)
    return time.monotonic() - started


def train_when_unlocked(settings: Settings) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """Run ``streamrec train`` until the lock a killed trainer held has expired."""
    started = time.monotonic()
    while True:
        run = subprocess.run(
            [sys.executable, "-m", "ingest.cli", "train", "--quiet", "--force"],
            env=settings_env(settings),
            capture_output=True,
            check=False,
        )
        if b"already running" not in run.stderr:
            return run, round(time.monotonic() - started, 1)
        time.sleep(1)


def serves(hammer: Hammer, version: str | None, timeout: float = 30) -> bool:
    """Whether the API's answers switch to ``version`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hammer.answers and hammer.answers[-1] == (200, version):
            return True
        time.sleep(0.2)
    return False


def test_killed_trainers_never_disturb_serving_and_the_next_run_publishes(
    settings: Settings, fault_redis: redis.Redis, processes: Processes
) -> None:
    store = RedisFeatureStore(fault_redis, settings.key_prefix, settings.history_length)
    store.apply([feature_update(e) for e in generate_events(2000, 600, 60_000, seed=5)])
    log = processes.log("trainer")
    log.touch()
    first = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "train", "--quiet"],
        env=settings_env(settings),
        capture_output=True,
        check=False,
    )
    previous = latest_version(settings.model_dir)
    assert previous and previous.encode() in first.stdout, first.stderr.decode()[-3000:]
    base = f"http://127.0.0.1:{settings.api_port}"
    started = time.monotonic()
    api = processes.start(["api"], settings, "api")
    wait_for(lambda: _ready(base), 60, "the API to be ready", processes.log("api"))

    waits = {}
    with Hammer(base) as hammer:
        for stage in ("training", *PUBLISH_STAGES):
            waits[stage] = round(kill_at(settings, stage, log, processes), 1)
            assert latest_version(settings.model_dir) == previous, f"LATEST moved at {stage}"
            time.sleep(1.5)  # three model checks of every API worker
        leftovers = sorted(p.name for p in settings.model_dir.iterdir())
        during_kills = list(hammer.answers)
        stop_process(api)  # SIGTERM: a SIGKILLed gunicorn master leaves its workers serving
        api = processes.start(["api"], settings, "restarted-api")
        restarted = processes.log("restarted-api")
        wait_for(lambda: _ready(base), 60, "the restarted API to be ready", restarted)
        assert api.poll() is None, restarted.read_text()[-2000:]
        ready_at = len(hammer.answers)
        time.sleep(1.5)
        after_restart = hammer.answers[ready_at:]
        recovered, waits["next run"] = train_when_unlocked(settings)
        newest = latest_version(settings.model_dir)
        swapped = serves(hammer, newest)
    served = Counter(during_kills + after_restart)
    restarting = hammer.answers[len(during_kills) : ready_at]  # the only API instance
    refused = sum(1 for status, _ in restarting if status == 0)
    print(
        f"answers while trainers were killed and after the API restart: {dict(served)}; "
        f"requests refused while the API restarted: {refused}; lock waits {waits}; "
        f"left in the model dir: {leftovers}"
    )
    write_result(
        "trainer_kills",
        time.monotonic() - started,
        {"trainer SIGKILL mid-training": 1, "trainer SIGKILL mid-publish": 3, "API restart": 1},
        clean=set(served) == {(200, previous)} and recovered.returncode == 0 and swapped,
        answers=sum(served.values()),
        answers_by_status_and_version={f"{s} {v}": n for (s, v), n in served.items()},
        requests_refused_while_the_api_restarted=refused,
        seconds_until_the_dead_trainers_lock_expired=waits,
        left_in_model_dir=leftovers,
        next_run=recovered.stdout.decode()[-300:],
        next_version=newest,
        next_version_served=swapped,
        previous_version=previous,
    )
    assert set(served) == {(200, previous)}, served
    assert f"preloaded model {previous}" in restarted.read_text(), "restarted API model"
    assert any(name.startswith(TEMP_PREFIX) for name in leftovers), "no half-written artifact"
    assert recovered.returncode == 0, recovered.stderr.decode()[-2000:]
    assert newest != previous and newest is not None and newest.encode() in recovered.stdout
    assert swapped, "the API did not switch to the next model"
