"""fold_in reproduces what implicit's ALS computes for a training user's own row."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from ingest.settings import Settings
from recommender.foldin import fold_in, gramian
from recommender.matrix import UserItems, build_user_items
from recommender.model import Model
from recommender.train import build_metadata, fit_als


def random_user_items(seed: int = 0, n_users: int = 60, n_items: int = 40) -> UserItems:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        chosen = rng.choice(n_items, size=int(rng.integers(3, 10)), replace=False)
        items = {f"i{item:02d}": float(rng.integers(1, 6)) for item in chosen}
        rows.append((f"u{user:02d}", items))
    return build_user_items(rows)


def settings_with(alpha: float) -> Settings:
    return Settings(
        als_factors=8, als_regularization=0.05, als_alpha=alpha, als_iterations=15, random_seed=7
    )


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("alpha", [0.5, 2.0, 10.0])
def test_fold_in_matches_trained_user_factors(alpha: float) -> None:
    user_items = random_user_items()
    als = fit_als(user_items, settings_with(alpha))
    gram = gramian(als.item_factors)

    for user in range(user_items.matrix.shape[0]):
        row = user_items.matrix[user]
        folded = fold_in(als.item_factors, gram, row.indices, row.data, 0.05, alpha)

        assert cosine(folded, als.user_factors[user]) > 0.99
        # implicit's own exact solve for this row: same equation, same answer.
        np.testing.assert_allclose(folded, als.recalculate_user(user, row), rtol=1e-3, atol=1e-5)


def test_model_recommend_agrees_with_implicit_recalculate_user() -> None:
    user_items = random_user_items(seed=1)
    settings = settings_with(2.0)
    als = fit_als(user_items, settings)
    model = Model(
        "v1",
        np.array(user_items.item_ids),
        als.item_factors,
        build_metadata("v1", datetime.now(UTC), user_items, settings),
    )

    for user, user_id in enumerate(user_items.user_ids[:20]):
        row = user_items.matrix[user]
        ids, _ = als.recommend(
            user, row, N=5, recalculate_user=True, filter_already_liked_items=True
        )
        history = {
            user_items.item_ids[i]: float(w) for i, w in zip(row.indices, row.data, strict=True)
        }

        ours = model.recommend(history, 5, exclude=set(history))

        assert [item_id for item_id, _ in ours] == [user_items.item_ids[i] for i in ids], user_id


def test_no_items_folds_to_zero_vector() -> None:
    factors = np.eye(3, dtype=np.float32)
    empty = np.array([], dtype=np.int64)

    folded = fold_in(factors, gramian(factors), empty, np.array([]), 0.1, 2.0)

    np.testing.assert_array_equal(folded, np.zeros(3))


@pytest.mark.parametrize(
    ("indices", "weights", "message"),
    [
        ([0, 0], [1.0, 1.0], "unique"),
        ([0, 1], [1.0, 0.0], "positive"),
        ([0, 3], [1.0, 1.0], r"\[0, 3\)"),
        ([0], [1.0, 2.0], "equal length"),
    ],
)
def test_fold_in_rejects_bad_input(indices: list[int], weights: list[float], message: str) -> None:
    factors = np.eye(3, dtype=np.float32)

    with pytest.raises(ValueError, match=message):
        fold_in(factors, gramian(factors), np.array(indices), np.array(weights), 0.1, 2.0)
