"""Why an item was recommended: each history item's exact share of its score (pure numpy).

A folded-in score is linear in the history. For ALS, score_t = sum_j c_j y_t^T A^-1 y_j, so
history item j contributes c_j (A^-1 y_t)^T y_j (as in implicit's ``explain``); one solve with
the k recommended items as right-hand sides gives them all. For a BPR user (the scaled mean of
the history's factors) item j contributes scale * share_j * y_t^T y_j. ``because`` lists the
largest positive contributions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from recommender.foldin import Folded, UserSystem

FloatArray = npt.NDArray[np.floating]


def als_contributions(
    system: UserSystem, target_factors: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Return targets x history contributions to each target's ALS score."""
    solved = system.solve(np.asarray(target_factors, dtype=np.float64).T)  # factors x targets
    return (solved.T @ np.asarray(system.chosen, dtype=np.float64).T) * system.confidence


def mean_contributions(
    history_factors: FloatArray,
    weights: npt.NDArray[np.float64],
    user_norm: float,
    target_factors: FloatArray,
) -> npt.NDArray[np.float64]:
    """Return targets x history contributions to each target's mean fold-in (BPR) score."""
    chosen = np.asarray(history_factors, dtype=np.float64)
    share = weights / weights.sum()
    scale = user_norm / max(float(np.linalg.norm(share @ chosen)), 1e-12)
    return (np.asarray(target_factors, dtype=np.float64) @ chosen.T) * share * scale


def top_reasons(contributions: FloatArray, top: int) -> list[list[int]]:
    """Per row, the history positions of the (up to ``top``) largest positive contributions.

    Ties keep history order (a stable sort); one sort for all rows.
    """
    if contributions.shape[1] == 0:
        return [[] for _ in range(contributions.shape[0])]
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
    picked = np.take_along_axis(contributions, order, axis=1)
    return [
        [position for position, value in zip(row, values, strict=True) if value > 0]
        for row, values in zip(order.tolist(), picked.tolist(), strict=True)
    ]


def history_reasons(
    item_factors: FloatArray, folded: Folded, targets: list[int], top: int, user_norm: float
) -> list[list[int]]:
    """Per target row, the rows of the (up to ``top``) history items adding most to its score."""
    if not targets:
        return []
    target_factors = item_factors[targets]
    if folded.system is None:  # mean fold-in (BPR)
        history_factors = item_factors[folded.indices]
        contributions = mean_contributions(
            history_factors, folded.weights, user_norm, target_factors
        )
    else:
        contributions = als_contributions(folded.system, target_factors)
    history = folded.indices.tolist()
    return [[history[j] for j in row] for row in top_reasons(contributions, top)]
