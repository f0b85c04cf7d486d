"""The per-request fast path: Cholesky fold-in, one-sort reasons, id bans."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.explain import als_contributions, history_reasons, top_reasons
from recommender.foldin import COMPILED_UPDATE_MAX_ITEMS, AlsFoldIn, gramian
from recommender.history import VECTORISED_HISTORY_MIN_ITEMS, known_positive_rows
from recommender.model import Model


def random_factors(n_items: int = 300, n_factors: int = 16, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_items, n_factors)) * 0.3).astype(np.float32)


def model_of(factors: np.ndarray, regularization: float = 0.1, alpha: float = 2.0) -> Model:
    ids = np.array([f"i{n:04d}" for n in range(factors.shape[0])])
    params = {"regularization": regularization, "alpha": alpha}
    return Model("v1", ids, factors, {"version": "v1", "params": params})


@pytest.mark.parametrize(
    "n_history", [1, 8, COMPILED_UPDATE_MAX_ITEMS, COMPILED_UPDATE_MAX_ITEMS + 1, 120]
)
@pytest.mark.parametrize("alpha", [0.3, 2.0, 40.0])  # confidences below and above 1
def test_user_system_matches_a_direct_solve(n_history: int, alpha: float) -> None:
    rng = np.random.default_rng(n_history)
    factors = (rng.standard_normal((300, 16)) / 4).astype(np.float32)
    indices = np.sort(rng.choice(300, size=n_history, replace=False)).astype(np.int64)
    weights = rng.uniform(0.5, 5.0, size=n_history)
    foldin = AlsFoldIn(factors, regularization=0.1, alpha=alpha)

    system = foldin.system(indices, weights)

    chosen = factors[indices].astype(np.float64)
    confidence = alpha * weights
    lhs = gramian(factors) + 0.1 * np.eye(16) + (chosen.T * (confidence - 1)) @ chosen
    expected = np.linalg.solve(lhs, chosen.T @ confidence)
    assert system.cholesky is not None
    upper = np.triu(system.cholesky)
    scale = float(np.abs(lhs).max())  # long histories sum their update in float32
    np.testing.assert_allclose(upper.T @ upper, lhs, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(system.lhs, lhs, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(system.user_vector(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(system.solve(chosen[0]), np.linalg.solve(lhs, chosen[0]), rtol=1e-4)


def test_singular_system_falls_back_to_least_squares() -> None:
    factors = np.zeros((4, 3), dtype=np.float32)
    factors[0, 0] = 1.0  # regularization 0 and a rank-1 catalogue: A is singular

    system = AlsFoldIn(factors, 0.0, 2.0).system(np.array([0]), np.array([1.0]))

    assert system.cholesky is None
    np.testing.assert_allclose(system.user_vector(), [1.0, 0.0, 0.0], atol=1e-6)


def test_contributions_add_up_to_the_scores() -> None:
    factors = random_factors()
    foldin = AlsFoldIn(factors, 0.1, 2.0)
    system = foldin.system(np.array([1, 2, 3, 50]), np.array([1.0, 4.0, 2.0, 1.0]))
    targets = factors[[7, 8, 9]]

    contributions = als_contributions(system, targets)

    np.testing.assert_allclose(
        contributions.sum(axis=1), targets @ system.user_vector(), rtol=1e-4, atol=1e-6
    )


def test_contributions_match_a_direct_solve() -> None:
    rng = np.random.default_rng(8)
    factors = random_factors(n_items=400, n_factors=24)
    foldin = AlsFoldIn(factors, 0.05, 3.0)
    for size in (1, 7, 60):
        history = np.sort(rng.choice(400, size=size, replace=False))
        system = foldin.system(history, rng.uniform(0.5, 5, size=size))
        targets = factors[rng.choice(400, size=10)]
        solved = np.linalg.solve(system.lhs, targets.astype(np.float64).T)
        expected = (solved.T @ factors[history].astype(np.float64).T) * system.confidence
        np.testing.assert_allclose(
            als_contributions(system, targets), expected, rtol=1e-6, atol=1e-7
        )


def test_top_reasons_take_the_largest_positive_ones_and_keep_history_order_in_ties() -> None:
    contributions = np.array([[0.1, 0.5, 0.5, -1.0, 0.2], [-1.0, -2.0, 0.0, 0.3, -0.1]])

    assert top_reasons(contributions, 3) == [[1, 2, 4], [3]]
    assert top_reasons(np.zeros((2, 0)), 3) == [[], []]
    assert top_reasons(contributions, 0) == [[], []]


def test_top_reasons_match_a_stable_sort() -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        # Few distinct values: many ties, zeros and negatives.
        contributions = rng.integers(-3, 4, size=(5, int(rng.integers(1, 12)))).astype(float)
        top = int(rng.integers(1, 6))
        order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
        expected = [
            [int(j) for j in row if values[j] > 0]
            for row, values in zip(order, contributions, strict=True)
        ]
        assert top_reasons(contributions, top) == expected


def test_history_order_does_not_change_the_answer() -> None:
    model = model_of(random_factors())
    history = {"i0005": 1.0, "i0100": 3.0, "i0042": 2.0, "i0007": 1.0}
    reordered = dict(reversed(list(history.items())))

    first = model.recommend_explained(history, 5, exclude=set(history))

    assert model.recommend_explained(reordered, 5, exclude=set(history)) == first


def test_non_finite_and_non_positive_weights_are_not_folded_in() -> None:
    model = model_of(random_factors())
    clean = {"i0005": 1.0, "i0100": 3.0}
    noisy = {**clean, "i0001": float("nan"), "i0002": float("inf"), "i0003": 0.0, "i0004": -1.0}

    vector = model.user_vector(noisy)

    assert vector is not None
    np.testing.assert_array_equal(vector, model.user_vector(clean))


def test_long_histories_are_looked_up_as_the_short_ones() -> None:
    # From VECTORISED_HISTORY_MIN_ITEMS items numpy looks the history up; it must take and skip
    # exactly the items the loop does (unknown ids, non-finite and non-positive weights).
    model = model_of(random_factors())
    rng = np.random.default_rng(9)
    odd = [float("nan"), float("inf"), -float("inf"), 0.0, -1.0]
    history = {f"i{n:04d}": float(rng.uniform(0.5, 4)) for n in rng.permutation(300)[:90]}
    history.update({f"i{n:04d}": odd[n % 5] for n in range(200, 210)})
    history.update({f"new-{n}": 2.0 for n in range(5)})
    assert len(history) >= VECTORISED_HISTORY_MIN_ITEMS
    expected = np.array(
        sorted(int(i[1:]) for i, w in history.items() if i[0] == "i" and 0 < w < np.inf)
    )

    found = known_positive_rows(model.item_index, history)
    items = list(history.items())
    short = [
        known_positive_rows(model.item_index, dict(items[n : n + 20]))
        for n in range(0, len(items), 20)
    ]

    assert found is not None
    indices, weights = found
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(weights, [history[f"i{n:04d}"] for n in expected])
    looped = np.concatenate([part[0] for part in short if part is not None])
    np.testing.assert_array_equal(np.sort(looped), expected)
    assert known_positive_rows(model.item_index, {f"new-{n}": 1.0 for n in range(70)}) is None
    assert known_positive_rows(model.item_index, {f"i{n:04d}": -1.0 for n in range(70)}) is None


def test_allowed_and_exclude_together_limit_the_candidates() -> None:
    model = model_of(random_factors())
    allowed = {f"i{n:04d}" for n in range(10)} | {"unknown"}

    ranked = model.recommend({"i0100": 2.0}, 20, exclude={"i0001", "nope"}, allowed=allowed)

    assert {item_id for item_id, _ in ranked} == allowed - {"i0001", "unknown"}


def test_bpr_contributions_add_up_to_the_scores_without_the_bias() -> None:
    factors = random_factors(n_factors=9)  # the last column is the item bias, as implicit's
    ids = np.array([f"i{n:04d}" for n in range(factors.shape[0])])
    metadata = {"params": {"regularization": 0.0, "alpha": 1.0}, "item_bias": True}
    model = Model("v1", ids, factors, {**metadata, "user_norm": 2.5})
    history = {"i0003": 1.0, "i0040": 3.0, "i0200": 0.5}

    folded = model.fold_in(history)

    assert folded is not None and folded.system is None and folded.coefficients is not None
    latent = factors[:, :-1].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(folded.vector), 2.5, rtol=1e-5)
    np.testing.assert_allclose(
        folded.coefficients @ latent[folded.indices], folded.vector, atol=1e-6
    )
    targets = [7, 8, 9]
    reasons = history_reasons(latent.astype(np.float32), folded, targets, top=3)
    contributions = (latent[targets] @ latent[folded.indices].T) * folded.coefficients
    np.testing.assert_allclose(
        contributions.sum(axis=1), latent[targets] @ folded.vector, atol=1e-5
    )
    for row, because in zip(contributions, reasons, strict=True):
        positive = [int(folded.indices[j]) for j in np.argsort(-row, kind="stable") if row[j] > 0]
        assert because == positive[:3]
