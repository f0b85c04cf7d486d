"""The static protocol: train on one split, recommend top-k to every test user, score (no I/O).

Training goes through ``recommender.train.train_model`` and every list through
``RecommendationService.recommend`` (request-time fold-in, seen items excluded), as in the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.schema import WatchEvent
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.evaluation.metrics import RankingMetrics, ranking_metrics
from recommender.evaluation.weighting import build_store
from recommender.matrix import build_user_items
from recommender.model import Model
from recommender.service import RecommendationService
from recommender.train import train_model
from stream.store import FeatureStore

K = 10
# With this half-life "trending" is all-time popularity for data spanning less than a century.
ALL_TIME_HALF_LIFE_SECONDS = 100 * 365 * 86_400.0


@dataclass(frozen=True)
class StaticResult:
    """One model's scores on one split, with what it took."""

    name: str
    metrics: RankingMetrics
    train_seconds: float
    recommend_seconds: float
    params: dict[str, Any] = field(default_factory=dict)


def relevant_items(events: Iterable[WatchEvent]) -> dict[str, set[str]]:
    """Return user_id -> the items of their held-out events."""
    relevant: dict[str, set[str]] = {}
    for event in events:
        relevant.setdefault(event.user_id, set()).add(event.item_id)
    return relevant


def train_from_store(store: FeatureStore, settings: Settings) -> Model:
    """Train a model on every user's features in the store, as the trainer does."""
    return train_model(build_user_items(store.iter_user_items()), settings)


def recommend_all(
    service: RecommendationService, user_ids: Iterable[str], k: int
) -> dict[str, list[str]]:
    """Ask the service for each user's top k item ids."""
    return {u: [item.item_id for item in service.recommend(u, k).items] for u in user_ids}


def evaluate(
    name: str,
    train: Sequence[WatchEvent],
    test: Sequence[WatchEvent],
    settings: Settings | None,
    weighting: str = "events",
    params: dict[str, Any] | None = None,
) -> StaticResult:
    """Train with ``settings`` on ``train`` and score on ``test``; None: most popular only."""
    half_life = settings.trending_half_life_seconds if settings else ALL_TIME_HALF_LIFE_SECONDS
    store = build_store(train, weighting, half_life)
    started = time.perf_counter()
    model = train_from_store(store, settings) if settings else None
    trained = time.perf_counter()
    service = RecommendationService(store, StaticModelSource(model))
    relevant = relevant_items(test)
    # Like the benchmark, only users present in training are asked (it scores training users).
    known_users = sorted({event.user_id for event in train} & set(relevant))
    recommended = recommend_all(service, known_users, K)
    finished = time.perf_counter()
    return StaticResult(
        name=name,
        metrics=ranking_metrics(recommended, relevant, K),
        train_seconds=trained - started,
        recommend_seconds=finished - trained,
        params=params or {},
    )
