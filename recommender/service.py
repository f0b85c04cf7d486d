"""The one recommendation path: the user's latest features folded into the current model.

Used by the API and by the offline evaluation alike. Filters apply to every list: ``exclude``
ids, one ``category`` of the catalogue, and ``include_seen`` (off by default: what the user has
interacted with is never recommended). Items the user disliked or skipped into a negative weight
are never recommended to them, whatever the filters say.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.errors import InvalidRequest, ModelNotReady
from recommender.artifacts import ModelSource
from recommender.catalogue import Catalogue
from recommender.clock import format_rfc3339, utc_now
from recommender.model import Model
from stream.store import FeatureStore

SOURCE_MODEL = "model"
SOURCE_POPULAR = "popular"
SOURCE_TRENDING = "trending"
NEW_ITEM_MIN_K = 5
NEW_ITEM_TRENDING_DEPTH = 50
TRENDING_CACHE_DEPTH = 200


@dataclass(frozen=True)
class ScoredItem:
    """One recommended item; ``because`` names the history items that contributed most."""

    item_id: str
    score: float
    because: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendations:
    """Ranked items plus the model that ranked them and where the list came from."""

    items: list[ScoredItem]
    model_version: str | None
    generated_at: str  # RFC 3339 UTC, e.g. "2026-11-25T19:01:02.123Z"
    source: str  # "model" | "trending" | "popular"


@dataclass(frozen=True)
class Filters:
    """What a list may contain."""

    exclude: frozenset[str] = frozenset()
    category: str | None = None
    include_seen: bool = False


@dataclass
class _Pick:
    """Items chosen so far and what may still be chosen."""

    k: int
    banned: set[str]
    allowed: set[str] | None
    items: list[ScoredItem] = field(default_factory=list)

    def take(self, candidates: Iterable[tuple[str, float]]) -> None:
        for item_id, score in candidates:
            if len(self.items) >= self.k:
                return
            if item_id in self.banned or (self.allowed is not None and item_id not in self.allowed):
                continue
            self.banned.add(item_id)
            self.items.append(ScoredItem(item_id, float(score)))

    @property
    def missing(self) -> int:
        return self.k - len(self.items)


class RecommendationService:
    """Recommends from the current model and the feature store; falls back to trending items."""

    def __init__(
        self,
        store: FeatureStore,
        models: ModelSource,
        clock: Callable[[], datetime] = utc_now,
        catalogue: Catalogue | None = None,
        trending_cache_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.models = models
        self.catalogue = catalogue or Catalogue()
        self._clock = clock
        # The API caches the trending list briefly (it changes slowly and every request that
        # falls back or checks for new items reads it); the offline evaluation must not.
        self._trending_cache_seconds = trending_cache_seconds
        self._trending_cache: tuple[float, int, list[tuple[str, float]]] = (-1e18, 0, [])
        self._unknown_memo: tuple[object, Model, list[tuple[str, float]]] | None = None

    def recommend(self, user_id: str, k: int, filters: Filters = Filters()) -> Recommendations:
        """Return up to k items for the user, personalised by their latest history."""
        _check_k(k)
        user_items = self.store.user_items(user_id)
        pick = _Pick(k, self._banned(user_items, filters), self._allowed(filters))
        model = self.models.current()
        if model is not None:
            ranked = model.recommend_explained(
                user_items, k, exclude=pick.banned, allowed=pick.allowed
            )
            pick.items = [ScoredItem(i, s, tuple(because)) for i, s, because in ranked]
            pick.banned |= {item_id for item_id, _, _ in ranked}
            self._give_new_item_a_slot(pick, model)
        source = SOURCE_MODEL if pick.items else SOURCE_TRENDING
        self._fill(pick, model)
        return self._answer(pick.items, model, source)

    def similar_items(self, item_id: str, k: int, filters: Filters = Filters()) -> Recommendations:
        """Return the k items most similar to item_id; NotFound if the model lacks it."""
        _check_k(k)
        model = self.models.current()
        if model is None:
            raise ModelNotReady("no trained model has been published yet")
        allowed = self._allowed(filters)
        ranked = model.similar_items(item_id, model.item_factors.shape[0] if allowed else k)
        pick = _Pick(k, set(filters.exclude), allowed)
        pick.take(ranked)
        return self._answer(pick.items, model, SOURCE_MODEL)

    def trending(self, k: int, filters: Filters = Filters()) -> Recommendations:
        """Return the k items trending now (time-decayed popularity), then the most popular."""
        _check_k(k)
        pick = _Pick(k, set(filters.exclude), self._allowed(filters))
        model = self.models.current()
        self._fill(pick, model)
        return self._answer(pick.items, model, SOURCE_TRENDING)

    def history(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Return the user's most recent events, newest first by event time."""
        _check_positive("limit", limit)
        return self.store.user_history(user_id, limit)

    def categories(self) -> list[str]:
        """Return the catalogue's categories ([] without a catalogue)."""
        return self.catalogue.category_names()

    def _banned(self, user_items: dict[str, float], filters: Filters) -> set[str]:
        disliked = {item_id for item_id, weight in user_items.items() if weight < 0}
        seen = set() if filters.include_seen else set(user_items)
        return set(filters.exclude) | disliked | seen

    def _allowed(self, filters: Filters) -> set[str] | None:
        if filters.category is None:
            return None
        category = self.catalogue.find_category(filters.category)
        if category is None:
            known = ", ".join(self.catalogue.category_names()) or "none: no catalogue is loaded"
            raise InvalidRequest(
                f"unknown category {filters.category!r}; known: {known}",
                [{"field": "category", "message": "is not a category of the catalogue"}],
            )
        return self.catalogue.items_in(category)

    def _give_new_item_a_slot(self, pick: _Pick, model: Model) -> None:
        # An item newer than the model has no factors: the most trending one takes the last
        # place of a full personal list (k >= NEW_ITEM_MIN_K) until a retrain learns it.
        if pick.k < NEW_ITEM_MIN_K or pick.missing > 0:
            return
        for item_id, score in self._trending_unknown_to(model):
            allowed = pick.allowed is None or item_id in pick.allowed
            if item_id not in pick.banned and allowed:
                pick.items[-1] = ScoredItem(item_id, float(score))
                pick.banned.add(item_id)
                return

    def _trending_unknown_to(self, model: Model) -> list[tuple[str, float]]:
        # The top trending items the model has no factors for (usually none), worked out once
        # per cached trending list and model, not with 50 lookups in every request.
        trending = self._trending_items(NEW_ITEM_TRENDING_DEPTH)
        cache, memo = self._trending_cache, self._unknown_memo
        if memo is not None and memo[0] is cache and memo[1] is model:
            return memo[2]
        unknown = [
            (item_id, score) for item_id, score in trending if item_id not in model.item_index
        ]
        if self._trending_cache_seconds > 0:
            self._unknown_memo = (cache, model, unknown)  # one tuple: readers see old or new
        return unknown

    def _fill(self, pick: _Pick, model: Model | None) -> None:
        # Trending reaches items newer than the model; popularity covers a quiet or empty store.
        # With a category filter most candidates are skipped, so ask for more of them.
        depth = pick.k + len(pick.banned) + (1000 if pick.allowed is not None else 0)
        for candidates in (
            lambda: self._trending_items(depth),
            lambda: self.store.popular_items(depth),
            lambda: model.popular_items(depth) if model else [],
        ):
            if pick.missing <= 0:
                return
            pick.take(candidates())

    def _trending_items(self, depth: int) -> list[tuple[str, float]]:
        if self._trending_cache_seconds <= 0:
            return self.store.trending_items(depth)
        now = time.monotonic()
        fetched_at, cached_depth, cached = self._trending_cache
        if now - fetched_at > self._trending_cache_seconds or cached_depth < depth:
            fetch = max(depth, TRENDING_CACHE_DEPTH)
            cached = self.store.trending_items(fetch)
            self._trending_cache = (now, fetch, cached)  # one tuple: readers see old or new
        return cached[:depth]

    def _answer(self, items: list[ScoredItem], model: Model | None, source: str) -> Recommendations:
        return Recommendations(
            items=items,
            model_version=model.version if model else None,
            generated_at=format_rfc3339(self._clock()),
            source=source,
        )


def _check_k(k: int) -> None:
    _check_positive("k", k)


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(
            f"{name} must be a positive integer, got {value!r}",
            [{"field": name, "message": "must be a positive integer"}],
        )
