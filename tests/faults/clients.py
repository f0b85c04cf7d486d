"""Clients of the fault scenarios: the API as a process, HTTP posting that retries the way the API
asks (503 + Retry-After), and the events they send (a replay CSV, users of their own).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.schema import WatchEvent, decode_event
from ingest.settings import Settings
from ingest.sources import generate_events
from tests.faults.conftest import Processes
from tests.faults.traffic import Outgoing, Sent, event_message
from tests.processes import wait_for


def start_api(processes: Processes, settings: Settings) -> subprocess.Popen[bytes]:
    """Start ``streamrec api`` (gunicorn) and wait until it answers /healthz."""
    api = processes.start(["api"], settings, "api")
    base = f"http://{settings.api_host}:{settings.api_port}"
    wait_for(lambda: http_status(f"{base}/healthz") == 200, 60, "the API", processes.log("api"))
    return api


def http_status(url: str) -> int | None:
    """The status of a GET, or None if nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def get_json(url: str, timeout: float = 10) -> tuple[int, Any]:
    """GET a URL: (status, decoded JSON body), or (0, error text) if nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


@dataclass
class PostStats:
    """What HTTP clients saw: statuses per answer, connection errors, retries."""

    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int | None) -> None:
        """Count one answer (None: no answer at all)."""
        with self.lock:
            if status is None:
                self.connection_errors += 1
            else:
                self.statuses[status] += 1

    def as_dict(self) -> dict[str, Any]:
        """Plain figures for printing and the JSON results."""
        return {
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "connection_errors": self.connection_errors,
            "retries": self.retries,
        }


def post_until_accepted(
    url: str, messages: Sequence[Outgoing], stats: PostStats, give_up_seconds: float = 180
) -> None:
    """POST a batch of events until the API answers 202, honouring 503 + Retry-After."""
    body = b'{"events": [' + b",".join(m.value or b"" for m in messages) + b"]}"
    deadline = time.monotonic() + give_up_seconds
    while True:
        status, retry_after = _post(url, body)
        stats.count(status)
        if status == 202:
            return
        if status not in (None, 503) or time.monotonic() > deadline:
            raise AssertionError(f"POST {url} answered {status}; not a retryable answer")
        with stats.lock:
            stats.retries += 1
        time.sleep(min(retry_after, 5.0))


def _post(url: str, body: bytes) -> tuple[int | None, float]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), 0.0
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code), float(exc.headers.get("Retry-After") or 1)
    except OSError:
        return None, 0.5


def ingest_over_http(
    base_url: str,
    messages: Sequence[Outgoing],
    stats: PostStats,
    clients: int = 4,
    batch_size: int = 100,
    progress: list[int] | None = None,
    pause_seconds: float = 0.0,
) -> list[Sent]:
    """Post every message through the API with ``clients`` threads; return the accepted ones.

    Each client owns a set of users (by key) and posts their events in order, so one user's
    events reach Kafka in the order of ``messages`` however the clients interleave; accepted =
    answered 202. Partition and offset are unknown over HTTP (-1): only valid events go this way.
    """
    owned: list[list[Outgoing]] = [[] for _ in range(clients)]
    for message in messages:
        owned[hash(message.key) % clients].append(message)
    accepted: list[list[Sent]] = [[] for _ in range(clients)]
    failures: list[BaseException] = []

    def client(number: int) -> None:
        mine = owned[number]
        try:
            for start in range(0, len(mine), batch_size):
                batch = mine[start : start + batch_size]
                post_until_accepted(f"{base_url}/v1/events", batch, stats)
                accepted[number] += [Sent(message, -1, -1) for message in batch]
                if progress is not None:
                    with stats.lock:
                        progress[0] += len(batch)
                time.sleep(pause_seconds)
        except Exception as exc:  # surfaced below, after the other clients finished
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise AssertionError(f"{len(failures)} HTTP clients gave up: {failures[0]}")
    return [sent for mine in accepted for sent in mine]


def write_replay_csv(path: Path, n_events: int, seed: int) -> list[Sent]:
    """Write generated events as a replay CSV; return them as the messages they become."""
    events = list(generate_events(n_users=3000, n_items=800, n_events=n_events, seed=seed))
    lines = ["user_id,item_id,timestamp,event_type"]
    lines += [f"{e.user_id},{e.item_id},{e.timestamp},{e.event_type}" for e in events]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [Sent(event_message(event), -1, -1) for event in events]


def with_users_prefixed(messages: Sequence[Outgoing], prefix: str) -> list[Outgoing]:
    """The same events for users of their own (``<prefix>user-...``).

    For traffic sent by two producers at once (the API and a replay): one user's events must
    reach Kafka in a known order for the clean run to be known, and two producers interleave.
    """
    return [event_message(_prefixed(message, prefix)) for message in messages]


def _prefixed(message: Outgoing, prefix: str) -> WatchEvent:
    assert message.value is not None
    event = decode_event(message.value)
    return event.model_copy(update={"user_id": f"{prefix}{event.user_id}"})


def paced(messages: Iterable[Outgoing], rate_per_second: float) -> Iterator[Outgoing]:
    """Yield messages no faster than ``rate_per_second`` (message n at start + n / rate)."""
    started = time.monotonic()
    for number, message in enumerate(messages):
        delay = started + number / rate_per_second - time.monotonic()
        if delay > 0.001:
            time.sleep(delay)
        yield message
