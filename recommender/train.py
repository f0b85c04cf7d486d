"""Train an ALS model with implicit (CPU only) and wrap it as a Model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from ingest.settings import Settings
from recommender.clock import format_rfc3339, new_version, utc_now
from recommender.matrix import UserItems
from recommender.model import Model

POPULAR_ITEMS_KEPT = 100


class NoTrainingData(ValueError):
    """There is nothing to train on: no user has a positive weight for any item."""


def fit_als(
    user_items: UserItems, settings: Settings, show_progress: bool = False
) -> AlternatingLeastSquares:
    """Fit implicit's CPU ALS on the matrix with BLAS limited to one thread; return it."""
    n_users, n_items = user_items.matrix.shape
    if n_users == 0 or n_items == 0:
        raise NoTrainingData(
            f"cannot train a model on {n_users} users and {n_items} items: no positive "
            "interactions in the feature store yet"
        )
    # implicit parallelises over users itself; a multi-threaded BLAS underneath only slows it
    # down (and implicit warns about it when the model is created), so limit both steps.
    with threadpool_limits(limits=1, user_api="blas"):
        als = AlternatingLeastSquares(
            factors=settings.als_factors,
            regularization=settings.als_regularization,
            alpha=settings.als_alpha,
            iterations=settings.als_iterations,
            random_state=settings.random_seed,
            calculate_training_loss=False,
        )
        als.fit(user_items.matrix, show_progress=show_progress)
    return als


def train_model(user_items: UserItems, settings: Settings, show_progress: bool = False) -> Model:
    """Train a new model version on the matrix; raise NoTrainingData (a ValueError) if empty."""
    als = fit_als(user_items, settings, show_progress=show_progress)
    trained_at = utc_now()
    version = new_version(trained_at)
    metadata = build_metadata(version, trained_at, user_items, settings)
    item_ids = np.array(user_items.item_ids, dtype=np.str_)
    item_factors = np.asarray(als.item_factors, dtype=np.float32)
    return Model(version, item_ids, item_factors, metadata)


def build_metadata(
    version: str, trained_at: datetime, user_items: UserItems, settings: Settings
) -> dict[str, Any]:
    """Describe a trained model as JSON-able metadata."""
    n_users, n_items = user_items.matrix.shape
    return {
        "version": version,
        "trained_at": format_rfc3339(trained_at),
        "algorithm": "als",
        "params": {
            "factors": settings.als_factors,
            "regularization": settings.als_regularization,
            "alpha": settings.als_alpha,
            "iterations": settings.als_iterations,
            "random_seed": settings.random_seed,
        },
        "n_users": int(n_users),
        "n_items": int(n_items),
        "n_interactions": user_items.n_interactions,
        "popular_items": popular_items(user_items, POPULAR_ITEMS_KEPT),
    }


def popular_items(user_items: UserItems, k: int) -> list[list[str | float]]:
    """Return the k items with the largest summed weight as [[item_id, weight], ...]."""
    totals = np.asarray(user_items.matrix.sum(axis=0), dtype=np.float64).ravel()
    ids = np.array(user_items.item_ids, dtype=np.str_)
    order = np.lexsort((ids, -totals))[:k]
    return [[str(ids[i]), float(totals[i])] for i in order]
