"""The streaming (prequential) protocol: test on each event before learning from it (no I/O).

Events are sorted by time; a model is trained on the first part; the rest is replayed in order.
Before each event every variant recommends the user's top-k, a hit is counted when the event's
item is in it, then the event is applied to the feature store exactly as the stream worker does
(``feature_update`` then ``store.apply``) and variants that retrain may do so.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ingest.schema import WatchEvent
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.evaluation.static import K, train_from_store
from recommender.model import Model
from recommender.service import RecommendationService
from stream.features import feature_update
from stream.store import FeatureStore

logger = logging.getLogger(__name__)


class Variant(ABC):
    """One way of answering requests during the replay."""

    name: str

    @abstractmethod
    def top_k(self, user_id: str) -> list[str]:
        """Return the user's top-k item ids right now."""

    def after_event(self, replayed: int) -> None:
        """React to the replayed-th event having been applied (default: nothing)."""
        return None


class ServiceVariant(Variant):
    """The API's path: RecommendationService over the live store (no model: trending only)."""

    def __init__(self, name: str, store: FeatureStore, model: Model | None) -> None:
        self.name = name
        self.models = StaticModelSource(model)
        self.service = RecommendationService(store, self.models)

    def top_k(self, user_id: str) -> list[str]:
        """Return the service's answer for the user."""
        return [item.item_id for item in self.service.recommend(user_id, K).items]


class RetrainingVariant(ServiceVariant):
    """The service over the live store, with a model retrained on the store every N events."""

    def __init__(
        self, name: str, store: FeatureStore, model: Model, settings: Settings, every: int
    ) -> None:
        super().__init__(name, store, model)
        self.store, self.settings, self.every = store, settings, every
        self.retrain_seconds: list[float] = []

    def after_event(self, replayed: int) -> None:
        """Retrain on everything in the store when another N events have been applied."""
        if replayed % self.every == 0:
            started = time.perf_counter()
            self.models.model = train_from_store(self.store, self.settings)
            self.retrain_seconds.append(time.perf_counter() - started)


class FrozenVariant(Variant):
    """The model trained at the cut with each user's history as it was then; nothing updates.

    Items the user interacted with since are still excluded (the same rule as every variant);
    users without history at the cut, or with too few personal items, get the most popular items
    at the cut.
    """

    def __init__(self, name: str, store: FeatureStore, model: Model) -> None:
        self.name, self.store, self.model = name, store, model
        self.frozen = dict(store.iter_user_items())  # the histories at construction time

    def top_k(self, user_id: str) -> list[str]:
        """Rank with the frozen history, excluding every item seen up to now."""
        seen = set(self.store.user_items(user_id))
        ranked = self.model.recommend(self.frozen.get(user_id, {}), K, exclude=seen)
        picked = [item_id for item_id, _ in ranked]
        for item_id, _ in self.model.popular_items(K + len(seen) + len(picked)):
            if len(picked) >= K:
                break
            if item_id not in seen and item_id not in picked:
                picked.append(item_id)
        return picked


@dataclass(frozen=True)
class Failure:
    """A request that raised instead of answering (counted as a miss)."""

    index: int
    user_id: str
    error: str


@dataclass
class ReplayResult:
    """Per-variant hits (one per replayed event, in order) and the time spent answering."""

    timestamps_ms: npt.NDArray[np.int64]
    hits: dict[str, npt.NDArray[np.bool_]]
    answer_seconds: dict[str, float]
    retrain_seconds: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)

    def hit_rate(self, name: str) -> float:
        """Return the variant's share of events whose item was in its top-k."""
        hits = self.hits[name]
        return float(hits.mean()) if hits.size else 0.0


def replay(
    events: Sequence[WatchEvent],
    store: FeatureStore,
    variants: Sequence[Variant],
    progress: Callable[[Sequence[WatchEvent]], Iterable[WatchEvent]] = iter,
) -> ReplayResult:
    """Before each event ask every variant, count hits, then apply the event to the store."""
    hits = {variant.name: np.zeros(len(events), dtype=bool) for variant in variants}
    seconds = dict.fromkeys(hits, 0.0)
    failures: dict[str, list[Failure]] = {name: [] for name in hits}
    for index, event in enumerate(progress(events)):
        for variant in variants:
            started = time.perf_counter()
            try:
                hits[variant.name][index] = event.item_id in variant.top_k(event.user_id)
            except Exception as exc:  # a request that fails is a miss, and is reported
                logger.warning("%s failed on event %d: %r", variant.name, index, exc)
                failures[variant.name].append(Failure(index, event.user_id, repr(exc)))
            seconds[variant.name] += time.perf_counter() - started
        store.apply([feature_update(event)])
        for variant in variants:
            variant.after_event(index + 1)
    retrains = {v.name: v.retrain_seconds for v in variants if isinstance(v, RetrainingVariant)}
    timestamps = np.fromiter((event.timestamp for event in events), np.int64, len(events))
    return ReplayResult(timestamps, hits, seconds, retrains, failures)


def windowed_hit_rate(
    hits: npt.NDArray[np.bool_], window: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Return (index of each window's last event, hit rate in that window), windows in order."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    starts = np.arange(0, hits.size, window)
    ends = np.minimum(starts + window, hits.size)
    rates = np.array([hits[s:e].mean() for s, e in zip(starts, ends, strict=True)])
    return ends, rates
