"""Mixed API traffic at a fixed rate (the mix of scripts/locustfile.py), for the soak scenario.

Each of ``threads`` clients owns the users ``user-n`` with ``n % threads`` = its number and runs
an open loop at ``rate / threads``: request k is due at start + k / rate, whatever the answers
took. The mix (weights as in the locustfile): recommendations 10, similar items 3, trending 2,
history 1, posting 1-3 events 2. A post answered 503 is retried until accepted (202), so the
events accepted are known exactly; a user's events are posted by one client, in order.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from ingest.schema import EVENT_TYPES, WatchEvent
from tests.faults.traffic import Sent, event_message

MIX = {"recommendations": 10, "similar": 3, "trending": 2, "history": 1, "watch": 2}
POST_RETRY_SECONDS = 120
DEGRADED = re.compile(r'"degraded":\s*true')


@dataclass
class LoadResult:
    """What one run of the load saw."""

    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)  # "<kind> <status>", "<kind> degraded"
    latencies_ms: list[float] = field(default_factory=list)
    accepted: list[Sent] = field(default_factory=list)
    post_retries: int = 0

    @property
    def requests(self) -> int:
        """Requests answered (or failed), retries included."""
        return sum(self.statuses.values())

    def server_errors(self, kind: str) -> int:
        """5xx answers and requests that got no answer at all, for one kind of request."""
        return sum(
            n
            for key, n in self.by_kind.items()
            if key.startswith(f"{kind} ") and (key.endswith(" none") or " 5" in key)
        )

    def summary(self) -> dict[str, Any]:
        """Plain figures for printing and the JSON results."""
        ordered = sorted(self.latencies_ms) or [0.0]
        pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)  # noqa: E731
        return {
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "requests_per_second": round(self.requests / max(self.seconds, 1e-9), 1),
            "statuses": dict(sorted(self.statuses.items())),
            "by_kind": dict(sorted(self.by_kind.items())),
            "p50_ms": pick(0.50),
            "p99_ms": pick(0.99),
            "events_accepted": len(self.accepted),
            "post_retries": self.post_retries,
        }


class MixedLoad:
    """Runs the mix against the API at a fixed rate (or closed loop: ``rate`` 0)."""

    def __init__(self, base: str, n_users: int, n_items: int, threads: int = 16) -> None:
        self.base = base
        self.n_users, self.n_items, self.threads = n_users, n_items, threads
        self._lock = threading.Lock()

    def run(self, seconds: float, rate: float, seed: int) -> LoadResult:
        """Send the mix for ``seconds`` at ``rate`` requests/s in all (0: as fast as answered)."""
        result = LoadResult()
        per_thread: list[list[Sent]] = [[] for _ in range(self.threads)]
        started = time.monotonic()
        workers = [
            threading.Thread(
                target=self._client,
                args=(n, seconds, rate / self.threads, seed, result, per_thread[n]),
            )
            for n in range(self.threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        result.seconds = time.monotonic() - started
        result.accepted = [sent for mine in per_thread for sent in mine]
        return result

    def _client(
        self,
        number: int,
        seconds: float,
        rate: float,
        seed: int,
        result: LoadResult,
        accepted: list[Sent],
    ) -> None:
        rng = random.Random(seed * 1000 + number)
        users = [f"user-{n}" for n in range(number, self.n_users, self.threads)]
        session = requests.Session()
        started = time.monotonic()
        for k in range(10**9):
            due = started + k / rate if rate > 0 else time.monotonic()
            if due - started >= seconds:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            kind = rng.choices(list(MIX), list(MIX.values()))[0]
            user = rng.choice(users)
            if kind == "watch":
                self._watch(session, rng, user, result, accepted)
            else:
                self._get(session, kind, self._path(kind, user, rng), result)
        session.close()

    def _path(self, kind: str, user: str, rng: random.Random) -> str:
        paths = {
            "recommendations": f"/v1/users/{user}/recommendations?k=10",
            "similar": f"/v1/items/{self._item(rng)}/similar?k=10",
            "trending": "/v1/trending?k=20",
            "history": f"/v1/users/{user}/history?limit=20",
        }
        return paths[kind]

    def _item(self, rng: random.Random) -> str:
        """A random item id, popular ones more often (the locustfile's Zipf-like skew)."""
        return f"item-{min(int(rng.paretovariate(1.2)), self.n_items) - 1}"

    def _get(self, session: requests.Session, kind: str, path: str, result: LoadResult) -> None:
        began = time.perf_counter()
        degraded = False
        try:
            response = session.get(f"{self.base}{path}", timeout=30)
            status = str(response.status_code)
            degraded = DEGRADED.search(response.text) is not None
        except requests.RequestException:
            status = "none"
        self._record(result, status, began, kind, degraded)

    def _watch(
        self,
        session: requests.Session,
        rng: random.Random,
        user: str,
        result: LoadResult,
        accepted: list[Sent],
    ) -> None:
        now_ms = int(time.time() * 1000)
        events = [self._event(rng, user, now_ms + n) for n in range(rng.randint(1, 3))]
        body = b'{"events": [' + b",".join(e.to_json_bytes() for e in events) + b"]}"
        headers = {"Content-Type": "application/json"}
        deadline = time.monotonic() + POST_RETRY_SECONDS
        while True:
            began = time.perf_counter()
            try:
                url = f"{self.base}/v1/events"
                response = session.post(url, data=body, headers=headers, timeout=30)
                status = str(response.status_code)
            except requests.RequestException:
                status = "none"
            self._record(result, status, began, "watch")
            if status == "202":
                accepted += [Sent(event_message(event), -1, -1) for event in events]
                return
            if status not in ("503", "none") or time.monotonic() > deadline:
                raise AssertionError(f"POST /v1/events answered {status}")
            with self._lock:
                result.post_retries += 1
            time.sleep(1.0)

    def _event(self, rng: random.Random, user: str, timestamp_ms: int) -> WatchEvent:
        return WatchEvent(
            event_id=str(uuid.UUID(int=rng.getrandbits(128))),
            user_id=user,
            item_id=self._item(rng),
            event_type=rng.choice(EVENT_TYPES),  # type: ignore[arg-type]
            timestamp=timestamp_ms,
        )

    def _record(
        self, result: LoadResult, status: str, began: float, kind: str, degraded: bool = False
    ) -> None:
        with self._lock:
            result.statuses[status] += 1
            result.by_kind[f"{kind} {status}"] += 1
            result.by_kind[f"{kind} degraded"] += degraded
            result.latencies_ms.append((time.perf_counter() - began) * 1000)
