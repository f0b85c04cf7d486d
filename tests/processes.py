"""Running streamrec commands as real processes in tests, and publishing what they read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr

from ingest.publisher import kafka_publisher
from ingest.schema import WatchEvent
from ingest.settings import ENV_PREFIX, Settings

T = TypeVar("T")


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes a child process load exactly these settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    for name, value in settings.model_dump().items():
        if value is None:  # unset optional settings stay unset in the child
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
    env.update(extra)
    return env


@contextmanager
def streamrec_process(
    args: list[str], env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``streamrec ARGS`` in the background; stop it (SIGTERM, then SIGKILL) on exit."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop a child gracefully, forcefully if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(
    check: Callable[[], T | None], timeout: float, what: str, log_path: Path | None = None
) -> T:
    """Poll ``check`` until it returns something truthy; fail with the log tail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-3000:] if log_path and log_path.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n--- log tail ---\n{tail}")


def publish_all(settings: Settings, events: Sequence[WatchEvent]) -> None:
    """Publish events through the project's Kafka publisher, every ack awaited, then close it."""
    publisher = kafka_publisher(settings)
    try:
        publisher.publish(events)
    finally:
        publisher.close()
