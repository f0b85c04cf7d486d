"""Degraded mode: when Redis fails or is slow, answer from the model artifact alone, said so.

The API's Redis client has a short timeout (``api_redis_timeout_seconds``). A request whose
Redis call fails is answered again by a second service whose feature store holds no users and
whose popularity is the one saved in the model artifact; the answer says ``"degraded": true``.
After a failure, requests skip Redis for ``api_degraded_seconds`` so that a dead or hanging Redis
costs one timeout per worker per period, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from redis import RedisError

from recommender.artifacts import ModelSource
from stream.store import InMemoryFeatureStore

T = TypeVar("T")
log = logging.getLogger(__name__)


class Outage:
    """Remembers when a backend last failed, so callers can skip it for a while (a breaker)."""

    def __init__(
        self, name: str, hold_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.hold_seconds = hold_seconds
        self._clock = clock
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def active(self) -> bool:
        """Tell whether Redis failed less than ``hold_seconds`` ago."""
        failed_at = self._failed_at
        return failed_at is not None and self._clock() - failed_at < self.hold_seconds

    def record(self, exc: Exception) -> None:
        """Note a failure now; log it once per outage, not once per request."""
        with self._lock:
            first = self._failed_at is None
            self._failed_at = self._clock()
        if first:
            log.warning(
                "%s failed (%s); not asking it again for %ss", self.name, exc, self.hold_seconds
            )

    def clear(self) -> None:
        """Note that the backend answered again."""
        if self._failed_at is not None:
            with self._lock:
                self._failed_at = None
            log.info("%s answers again", self.name)


class ModelPopularityStore(InMemoryFeatureStore):
    """A feature store without users whose popular items are those saved with the served model."""

    def __init__(self, models: ModelSource) -> None:
        super().__init__()
        self.models = models

    def popular_items(self, k: int) -> list[tuple[str, float]]:
        """Return the served model's k most popular training items (none without a model)."""
        model = self.models.current()
        return model.popular_items(k) if model is not None else []


def call_with_fallback(
    outage: Outage,
    primary: Callable[[], T],
    fallback: Callable[[], T],
) -> tuple[T, bool]:
    """Return ``(primary(), False)``, or ``(fallback(), True)`` if Redis fails or just failed."""
    if not outage.active():
        try:
            result = primary()
        except RedisError as exc:
            outage.record(exc)
        else:
            outage.clear()
            return result, False
    return fallback(), True
