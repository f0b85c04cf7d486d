"""Per-client token buckets, kept in one process (so with N workers a client gets up to N times)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_CLIENTS = 10_000


class RateLimiter:
    """Lets each client make ``rate`` requests per second on average, ``burst`` at once."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {rate} and {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_clients = max_clients
        # client -> (tokens, when counted); least recently seen first, so memory stays bounded.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> int:
        """Take one token for ``client``; return 0, or the whole seconds to wait if none is left."""
        now = self._clock()
        with self._lock:
            tokens, counted = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - counted) * self.rate)
            allowed = tokens >= 1
            self._buckets[client] = (tokens - 1 if allowed else tokens, now)
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        return 0 if allowed else max(1, math.ceil((1 - tokens) / self.rate))
