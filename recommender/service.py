"""The one recommendation path: the user's latest features folded into the current model."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from ingest.errors import InvalidRequest, ModelNotReady
from recommender.artifacts import ModelSource
from recommender.clock import format_rfc3339, utc_now
from recommender.model import Model
from stream.store import FeatureStore

SOURCE_MODEL = "model"
SOURCE_POPULAR = "popular"


@dataclass(frozen=True)
class Recommendations:
    """Ranked (item_id, score) pairs plus where they came from."""

    items: list[tuple[str, float]]
    model_version: str | None
    generated_at: str  # RFC 3339 UTC, e.g. "2026-11-25T19:01:02.123Z"
    source: str  # "model" | "popular"


class RecommendationService:
    """Recommends from the current model and the feature store; falls back to popular items."""

    def __init__(
        self,
        store: FeatureStore,
        models: ModelSource,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.models = models
        self._clock = clock

    def recommend(self, user_id: str, k: int) -> Recommendations:
        """Return up to k items for the user, never one they have already seen."""
        _check_k(k)
        user_items = self.store.user_items(user_id)
        seen = set(user_items)
        model = self.models.current()
        items = model.recommend(user_items, k, exclude=seen) if model else []
        source = SOURCE_MODEL if items else SOURCE_POPULAR
        if len(items) < k:
            # Too few personal picks (new user, tiny catalogue): fill with popular unseen items.
            taken = seen | {item_id for item_id, _ in items}
            items = items + self._popular(model, k - len(items), taken)
        return self._answer(items, model, source)

    def similar_items(self, item_id: str, k: int) -> Recommendations:
        """Return the k items most similar to item_id; NotFound if the model lacks it."""
        _check_k(k)
        model = self.models.current()
        if model is None:
            raise ModelNotReady("no trained model has been published yet")
        return self._answer(model.similar_items(item_id, k), model, SOURCE_MODEL)

    def _popular(self, model: Model | None, k: int, exclude: set[str]) -> list[tuple[str, float]]:
        # Ask for enough to survive the exclusions; the model's list covers an empty store.
        candidates = self.store.popular_items(k + len(exclude))
        picked = _first_unseen(candidates, k, exclude)
        if len(picked) < k and model is not None:
            taken = exclude | {item_id for item_id, _ in picked}
            picked += _first_unseen(model.popular_items(k + len(taken)), k - len(picked), taken)
        return picked

    def _answer(
        self, items: list[tuple[str, float]], model: Model | None, source: str
    ) -> Recommendations:
        return Recommendations(
            items=items,
            model_version=model.version if model else None,
            generated_at=format_rfc3339(self._clock()),
            source=source,
        )


def _first_unseen(
    candidates: Iterable[tuple[str, float]], k: int, exclude: set[str]
) -> list[tuple[str, float]]:
    picked: list[tuple[str, float]] = []
    for item_id, score in candidates:
        if len(picked) >= k:
            break
        if item_id not in exclude:
            picked.append((item_id, float(score)))
    return picked


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidRequest(
            f"k must be a positive integer, got {k!r}",
            [{"field": "k", "message": "must be a positive integer"}],
        )
