"""Train an ALS or BPR model with implicit (CPU only) and wrap it as a Model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from ingest.settings import Settings
from recommender.clock import format_rfc3339, new_version, utc_now
from recommender.matrix import UserItems
from recommender.model import Model

POPULAR_ITEMS_KEPT = 100


class NoTrainingData(ValueError):
    """There is nothing to train on: no user has a positive weight for any item."""


def _check_not_empty(user_items: UserItems) -> None:
    n_users, n_items = user_items.matrix.shape
    if n_users == 0 or n_items == 0:
        raise NoTrainingData(
            f"cannot train a model on {n_users} users and {n_items} items: no positive "
            "interactions in the feature store yet"
        )


def fit_als(
    user_items: UserItems, settings: Settings, show_progress: bool = False
) -> AlternatingLeastSquares:
    """Fit implicit's CPU ALS on the matrix with BLAS limited to one thread; return it."""
    _check_not_empty(user_items)
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


def fit_bpr(
    user_items: UserItems, settings: Settings, show_progress: bool = False
) -> BayesianPersonalizedRanking:
    """Fit implicit's CPU BPR on the matrix (item factors carry the item bias as last column)."""
    _check_not_empty(user_items)
    with threadpool_limits(limits=1, user_api="blas"):
        bpr = BayesianPersonalizedRanking(
            factors=settings.bpr_factors,
            learning_rate=settings.bpr_learning_rate,
            regularization=settings.bpr_regularization,
            iterations=settings.bpr_iterations,
            random_state=settings.random_seed,
        )
        bpr.fit(user_items.matrix, show_progress=show_progress)
    return bpr


def train_model(
    user_items: UserItems,
    settings: Settings,
    show_progress: bool = False,
    extra_metadata: dict[str, Any] | None = None,
) -> Model:
    """Train a new model version (settings.algorithm); raise NoTrainingData if there is no data."""
    fit = fit_bpr if settings.algorithm == "bpr" else fit_als
    fitted = fit(user_items, settings, show_progress=show_progress)
    trained_at = utc_now()
    version = new_version(trained_at)
    metadata = {
        **build_metadata(version, trained_at, user_items, settings),
        **(extra_metadata or {}),
    }
    if settings.algorithm == "bpr":  # the typical user vector length, for mean fold-in
        users = np.asarray(fitted.user_factors, dtype=np.float64)[:, :-1]
        metadata["user_norm"] = float(np.median(np.linalg.norm(users, axis=1)))
    item_ids = np.array(user_items.item_ids, dtype=np.str_)
    item_factors = np.asarray(fitted.item_factors, dtype=np.float32)
    return Model(version, item_ids, item_factors, metadata)


def build_metadata(
    version: str, trained_at: datetime, user_items: UserItems, settings: Settings
) -> dict[str, Any]:
    """Describe a trained model as JSON-able metadata."""
    n_users, n_items = user_items.matrix.shape
    foldin = {"regularization": settings.als_regularization, "alpha": settings.als_alpha}
    return {
        "version": version,
        "trained_at": format_rfc3339(trained_at),
        "algorithm": settings.algorithm,
        "params": algorithm_params(settings),
        # ALS users are folded in with its closed form, BPR users by mean fold-in (foldin.py).
        "foldin": foldin,
        "item_bias": settings.algorithm == "bpr",
        "n_users": int(n_users),
        "n_items": int(n_items),
        "n_interactions": user_items.n_interactions,
        "popular_items": popular_items(user_items, POPULAR_ITEMS_KEPT),
    }


def algorithm_params(settings: Settings) -> dict[str, Any]:
    """Return the training parameters of the configured algorithm."""
    if settings.algorithm == "bpr":
        return {
            "factors": settings.bpr_factors,
            "learning_rate": settings.bpr_learning_rate,
            "regularization": settings.bpr_regularization,
            "iterations": settings.bpr_iterations,
            "random_seed": settings.random_seed,
        }
    return {
        "factors": settings.als_factors,
        "regularization": settings.als_regularization,
        "alpha": settings.als_alpha,
        "iterations": settings.als_iterations,
        "random_seed": settings.random_seed,
    }


def popular_items(user_items: UserItems, k: int) -> list[list[str | float]]:
    """Return the k items with the largest summed weight as [[item_id, weight], ...]."""
    totals = np.asarray(user_items.matrix.sum(axis=0), dtype=np.float64).ravel()
    ids = np.array(user_items.item_ids, dtype=np.str_)
    order = np.lexsort((ids, -totals))[:k]
    return [[str(ids[i]), float(totals[i])] for i in order]
