"""QuantizedScorer: the int8 first pass must never change the exact float32 top k."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from recommender import scoring
from recommender.scoring import QuantizedScorer


def exact(
    factors: npt.NDArray[np.float32],
    ids: npt.NDArray[np.str_],
    vector: npt.NDArray[np.float32],
    k: int,
    banned: npt.NDArray[np.bool_],
    bias: npt.NDArray[np.float32] | None = None,
) -> list[int]:
    """The reference: every score exactly (float64, rounded to float32), sorted, ties by id."""
    scores = factors.astype(np.float64) @ vector.astype(np.float64)
    scores = (scores + (0 if bias is None else bias)).astype(np.float32)
    allowed = [row for row in range(len(ids)) if not banned[row]]
    return sorted(allowed, key=lambda row: (-scores[row], ids[row]))[:k]


def ids_for(n: int) -> npt.NDArray[np.str_]:
    return np.array([f"item-{i:05d}" for i in range(n)])


@pytest.mark.parametrize("seed", range(6))
def test_same_rows_and_order_as_scoring_every_item_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, f = 3_000, 32
    # Heavy tails (a few huge factors per row) give the coarsest int8 steps.
    factors = (rng.standard_t(2, size=(n, f)) * 0.1).astype(np.float32)
    ids = ids_for(n)
    scorer = QuantizedScorer(factors, ids)
    for _ in range(40):
        vector = (rng.standard_normal(f) * rng.uniform(0.01, 20)).astype(np.float32)
        banned = rng.random(n) < rng.uniform(0, 0.5)
        k = int(rng.integers(1, 120))
        got = scorer.top(vector, k, banned, int(banned.sum()))
        assert [row for row, _ in got] == exact(factors, ids, vector, k, banned)
        np.testing.assert_allclose(
            [score for _, score in got],
            [float(factors[row] @ vector) for row, _ in got],
            rtol=1e-5,
            atol=1e-6,
        )


def test_item_bias_is_added_exactly() -> None:
    rng = np.random.default_rng(11)
    n, f = 2_000, 16
    factors = rng.standard_normal((n, f)).astype(np.float32)
    bias = (rng.standard_normal(n) * 3).astype(np.float32)
    ids = ids_for(n)
    scorer = QuantizedScorer(factors, ids, bias)
    for _ in range(30):
        vector = rng.standard_normal(f).astype(np.float32)
        banned = np.zeros(n, dtype=bool)
        assert [row for row, _ in scorer.top(vector, 10, banned, 0)] == exact(
            factors, ids, vector, 10, banned, bias
        )


def test_ties_with_the_kth_score_are_broken_by_item_id() -> None:
    # Identical rows score identically: which of them make the top 3 is decided by id.
    rng = np.random.default_rng(3)
    row = rng.standard_normal(8).astype(np.float32)
    factors = np.vstack([rng.standard_normal((50, 8)) * 0.01, np.tile(row, (6, 1))])
    factors = factors.astype(np.float32)
    ids = np.array([f"x{i:03d}" for i in range(56)])
    ids[50:] = ["f", "b", "e", "a", "d", "c"]
    scorer = QuantizedScorer(factors, ids)
    got = scorer.top(row, 3, np.zeros(56, dtype=bool), 0)
    assert [ids[r] for r, _ in got] == ["a", "b", "c"]


def test_ties_by_id_and_banned_rows_never_returned() -> None:
    scores = np.array([0.5, 0.9, 0.5, 7.0, 0.5, 0.1], dtype=np.float32)
    scorer = QuantizedScorer(scores[:, None], np.array(["f", "e", "d", "c", "b", "a"]))
    one = np.ones(1, dtype=np.float32)
    banned = np.array([False, False, False, True, False, False])

    assert scorer.top(one, 3, banned, 1) == [(1, pytest.approx(0.9)), (4, 0.5), (2, 0.5)]
    assert [row for row, _ in scorer.top(one, 10, banned, 1)] == [1, 4, 2, 0, 5]
    assert scorer.top(one, 3, np.ones(6, dtype=bool), 6) == []


def test_fewer_rows_left_than_k_returns_them_all_and_nothing_banned() -> None:
    factors = np.arange(12, dtype=np.float32).reshape(6, 2)
    ids = ids_for(6)
    scorer = QuantizedScorer(factors, ids)
    banned = np.array([True, False, True, False, False, True])
    got = scorer.top(np.array([1.0, 1.0], dtype=np.float32), 10, banned, 3)
    assert [row for row, _ in got] == [4, 3, 1]
    assert scorer.top(np.ones(2, dtype=np.float32), 5, np.ones(6, dtype=bool), 6) == []


def test_zero_rows_and_a_zero_vector_are_handled() -> None:
    factors = np.zeros((5, 4), dtype=np.float32)
    factors[2] = [1, 0, 0, 0]
    ids = ids_for(5)
    scorer = QuantizedScorer(factors, ids)
    assert [
        r for r, _ in scorer.top(np.array([1, 0, 0, 0], np.float32), 2, np.zeros(5, bool), 0)
    ] == [
        2,
        0,
    ]
    # All scores 0: ids decide.
    got = scorer.top(np.zeros(4, np.float32), 3, np.zeros(5, bool), 0)
    assert [r for r, _ in got] == [0, 1, 2]


def test_the_first_pass_leaves_only_a_few_candidates() -> None:
    # What makes it fast: for k=10 over 20,000 random rows, a handful of rows to rescore.
    rng = np.random.default_rng(5)
    factors = (rng.standard_normal((20_000, 64)) * 0.1).astype(np.float32)
    scorer = QuantizedScorer(factors, ids_for(20_000))
    vector = factors[:50].sum(axis=0)
    norm = np.float32(np.linalg.norm(vector) * (1 + 1e-6))
    rows = scoring._candidates(
        scorer._codes,
        scorer._scales,
        scorer._bounds,
        scorer._bias,
        vector,
        norm,
        np.zeros(20_000, dtype=bool),
        10,
    )
    assert 10 <= len(rows) <= 100


@pytest.mark.parametrize("ascending", [True, False])
def test_exact_whatever_order_the_scores_come_in(ascending: bool) -> None:
    # The pass keeps rows against the k-th lower bound *so far*: with scores rising along the
    # rows it keeps nearly all of them, with scores falling only the first few; the answer is
    # the exact one either way.
    rng = np.random.default_rng(3)
    n, f, k = 2_000, 16, 7
    vector = rng.standard_normal(f).astype(np.float32)
    factors = rng.standard_normal((n, f)).astype(np.float32)
    order = np.argsort(factors.astype(np.float64) @ vector.astype(np.float64))
    factors = factors[order if ascending else order[::-1]]
    ids = ids_for(n)
    banned = np.zeros(n, dtype=bool)
    banned[[0, n - 1, n // 2]] = True
    got = QuantizedScorer(factors, ids).top(vector, k, banned, 3)
    assert [row for row, _ in got] == exact(factors, ids, vector, k, banned)
