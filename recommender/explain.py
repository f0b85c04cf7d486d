"""Why an item was recommended: each history item's exact share of its score.

A folded-in score is linear in the history. For ALS, score_t = sum_j c_j y_t^T A^-1 y_j, so
history item j contributes c_j (A^-1 y_t)^T y_j (as in implicit's ``explain``); one solve with
the k recommended items as right-hand sides gives them all. For a BPR user (the scaled mean of
the history's factors) item j contributes scale * share_j * y_t^T y_j. ``because`` lists the
largest positive contributions. The per-request loops (triangular solves against the request's
Cholesky factor, the top few per target) run compiled (``recommender.compiled``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from recommender.compiled import compiled
from recommender.foldin import Folded, UserSystem, cholesky_solve

FloatArray = npt.NDArray[np.floating]


def als_contributions(
    system: UserSystem, target_factors: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Return targets x history contributions to each target's ALS score."""
    targets = np.ascontiguousarray(target_factors, dtype=np.float32)
    if system.cholesky is None:  # singular A (regularization 0): least squares
        solved = system.solve(np.asarray(targets, dtype=np.float64).T)  # factors x targets
        return (solved.T @ np.asarray(system.chosen, dtype=np.float64).T) * system.confidence
    return _cholesky_contributions(system.cholesky, system.chosen, system.confidence, targets)


def mean_contributions(
    history_factors: FloatArray,
    coefficients: npt.NDArray[np.float64],
    target_factors: FloatArray,
) -> npt.NDArray[np.float64]:
    """Return targets x history contributions to each target's mean fold-in (BPR) score, given
    each history item's coefficient in the user vector (``foldin.mean_fold_in``)."""
    chosen = np.asarray(history_factors, dtype=np.float64)
    return (np.asarray(target_factors, dtype=np.float64) @ chosen.T) * coefficients


def top_reasons(contributions: FloatArray, top: int) -> list[list[int]]:
    """Per row, the history positions of the (up to ``top``) largest positive contributions.

    Ties keep history order.
    """
    if top <= 0:
        return [[] for _ in range(len(contributions))]
    picked = _top_positions(np.ascontiguousarray(contributions, dtype=np.float64), top)
    return [[position for position in row if position >= 0] for row in picked.tolist()]


def history_reasons(
    item_factors: FloatArray, folded: Folded, targets: list[int], top: int
) -> list[list[int]]:
    """Per target row, the rows of the (up to ``top``) history items adding most to its score."""
    if not targets:
        return []
    target_factors = item_factors[targets]
    if folded.system is None:  # mean fold-in (BPR)
        if folded.coefficients is None:
            raise ValueError("a BPR user folded in without coefficients cannot be explained")
        history_factors = item_factors[folded.indices]
        contributions = mean_contributions(history_factors, folded.coefficients, target_factors)
    else:
        contributions = als_contributions(folded.system, target_factors)
    history = folded.indices.tolist()
    return [[history[j] for j in row] for row in top_reasons(contributions, top)]


def _solve_contributions(
    cholesky: npt.NDArray[np.float64],
    chosen: npt.NDArray[np.float32],
    confidence: npt.NDArray[np.float64],
    targets: npt.NDArray[np.float32],
) -> npt.NDArray[np.float64]:  # pragma: no cover - compiled; tested through als_contributions
    """Contributions c_j (A^-1 y_t)^T y_j with A = U^T U (U: the upper triangle of ``cholesky``;
    LAPACK's potrf leaves the input below it)."""
    n_targets, n_factors = targets.shape
    n_history = chosen.shape[0]
    out = np.empty((n_targets, n_history), dtype=np.float64)
    solved = np.empty(n_factors, dtype=np.float64)
    for t in range(n_targets):
        for i in range(n_factors):
            solved[i] = targets[t, i]
        cholesky_solve(cholesky, solved)  # A^-1 y_t
        for j in range(n_history):
            total = 0.0
            for i in range(n_factors):
                total += solved[i] * chosen[j, i]
            out[t, j] = confidence[j] * total
    return out


def _find_top_positions(
    contributions: npt.NDArray[np.float64], top: int
) -> npt.NDArray[np.int64]:  # pragma: no cover - compiled; tested through top_reasons
    """Per row, the positions of the ``top`` largest positive values, -1 where fewer; on equal
    values the earlier position first."""
    n_rows, n_columns = contributions.shape
    picked = np.full((n_rows, top), -1, dtype=np.int64)
    best = np.empty(top, dtype=np.float64)
    for row in range(n_rows):
        count = 0
        for column in range(n_columns):
            value = contributions[row, column]
            if value <= 0 or (count == top and value <= best[top - 1]):
                continue
            slot = min(count, top - 1)  # insert, keeping equal earlier values ahead
            while slot > 0 and best[slot - 1] < value:
                best[slot] = best[slot - 1]
                picked[row, slot] = picked[row, slot - 1]
                slot -= 1
            best[slot] = value
            picked[row, slot] = column
            count = min(count + 1, top)
    return picked


_cholesky_contributions = compiled(_solve_contributions)
_top_positions = compiled(_find_top_positions)
