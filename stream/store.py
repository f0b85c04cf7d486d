"""The feature store interface (per-user features in Redis) and an in-memory implementation."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stream.features import FeatureUpdate, apply_weight
from stream.trending import TrendingScores, trending_time_ms

DEFAULT_TRENDING_HALF_LIFE_SECONDS = 86_400.0


@dataclass(frozen=True)
class PreparedUpdates:
    """Updates with whatever a store computed ahead of writing them (``payload``)."""

    updates: Sequence[FeatureUpdate]
    payload: Any = None


class FeatureStore(ABC):
    """Where the stream worker writes features and the trainer and API read them."""

    @abstractmethod
    def apply(self, updates: Sequence[FeatureUpdate]) -> int:
        """Apply updates once each (by user_id and event_id); return how many were new."""

    def prepare(self, updates: Sequence[FeatureUpdate]) -> PreparedUpdates:
        """Do the CPU work of ``apply`` ahead of the write (the worker overlaps it with I/O)."""
        return PreparedUpdates(updates)

    def apply_prepared(self, prepared: PreparedUpdates) -> int:
        """Apply what ``prepare`` returned; the same effect as ``apply`` of its updates."""
        return self.apply(prepared.updates)

    @abstractmethod
    def user_items(self, user_id: str) -> dict[str, float]:
        """Return item_id -> weight for every item the user interacted with (< 0: never show)."""

    @abstractmethod
    def user_history(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Return the user's most recent events, newest first (by event time)."""

    @abstractmethod
    def popular_items(self, k: int) -> list[tuple[str, float]]:
        """Return the k most popular items with their popularity, most popular first."""

    @abstractmethod
    def trending_items(self, k: int) -> list[tuple[str, float]]:
        """Return the k items with the highest decayed popularity (as of the newest event time)."""

    @abstractmethod
    def iter_user_items(self) -> Iterator[tuple[str, dict[str, float]]]:
        """Yield (user_id, user_items) for every user with features."""

    @abstractmethod
    def stats(self) -> dict[str, int]:
        """Return counters: ``applied`` and ``duplicates``."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""


def now_ms() -> int:
    """Return the wall clock in epoch milliseconds."""
    return int(time.time() * 1000)


class InMemoryFeatureStore(FeatureStore):
    """A dict-backed store for unit tests and single-process experiments."""

    def __init__(
        self,
        history_length: int = 200,
        trending_half_life_seconds: float = DEFAULT_TRENDING_HALF_LIFE_SECONDS,
    ) -> None:
        self.history_length = history_length
        self._items: dict[str, dict[str, float]] = defaultdict(dict)
        self._history: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._popularity: dict[str, float] = defaultdict(float)
        self._trending = TrendingScores(trending_half_life_seconds * 1000)
        self._seen_events: set[tuple[str, str]] = set()
        self._stats = {"applied": 0, "duplicates": 0}

    def apply(self, updates: Sequence[FeatureUpdate]) -> int:
        """Apply updates once each (by user_id and event_id); return how many were new."""
        applied, now = 0, now_ms()
        for update in updates:
            if (update.user_id, update.event_id) in self._seen_events:
                self._stats["duplicates"] += 1
                continue
            self._seen_events.add((update.user_id, update.event_id))
            self._apply_one(update, now)
            applied += 1
        self._stats["applied"] += applied
        return applied

    def _apply_one(self, update: FeatureUpdate, now: int) -> None:
        items = self._items[update.user_id]
        items[update.item_id] = apply_weight(items.get(update.item_id), update)
        history = self._history[update.user_id]
        history.append((update.timestamp_ms, update.history_entry))
        history.sort()
        del history[: max(0, len(history) - self.history_length)]
        if update.popularity > 0:
            self._popularity[update.item_id] += update.popularity
        t_ms = trending_time_ms(update.timestamp_ms, now)
        self._trending.add(update.item_id, update.popularity, t_ms)

    def user_items(self, user_id: str) -> dict[str, float]:
        """Return item_id -> weight for every item the user interacted with (< 0: never show)."""
        return dict(self._items.get(user_id, {}))

    def user_history(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Return the user's most recent events, newest first (by event time)."""
        newest_first = sorted(self._history.get(user_id, []), reverse=True)[:limit]
        return [json.loads(entry) for _, entry in newest_first]

    def popular_items(self, k: int) -> list[tuple[str, float]]:
        """Return the k most popular items with their popularity, most popular first."""
        ranked = sorted(self._popularity.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:k]

    def trending_items(self, k: int) -> list[tuple[str, float]]:
        """Return the k items with the highest decayed popularity (as of the newest event time)."""
        return self._trending.top(k)

    def iter_user_items(self) -> Iterator[tuple[str, dict[str, float]]]:
        """Yield (user_id, user_items) for every user with features."""
        for user_id, items in sorted(self._items.items()):
            yield user_id, dict(items)

    def stats(self) -> dict[str, int]:
        """Return counters: ``applied`` and ``duplicates``."""
        return dict(self._stats)

    def ping(self) -> None:
        """Always reachable."""
