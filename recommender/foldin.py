"""Fold one user's history into a user vector given fixed item factors (pure numpy).

Confidence follows implicit 0.7's CPU ALS exactly, so that a folded-in vector matches what
training (and ``recalculate_user``) computes: implicit multiplies the input by ``alpha`` and uses
the product as the confidence itself, ``c = alpha * w`` (not ``1 + alpha * w``), with preference
1 for every positive item and unobserved items at confidence 1. Regularization is a plain
``lambda * I``, not scaled by the number of interactions. So for one user::

    (YtY + lambda I + sum_i (c_i - 1) y_i y_i^T) x = sum_i c_i y_i
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.linalg.lapack import dpotrs

from recommender.compiled import compiled

FloatArray = npt.NDArray[np.floating]


def gramian(item_factors: FloatArray) -> npt.NDArray[np.float64]:
    """Return YtY (factors x factors, float64) of the item factors, shared by every user."""
    factors = np.asarray(item_factors, dtype=np.float64)
    return factors.T @ factors


def confidences(weights: FloatArray, alpha: float) -> npt.NDArray[np.float64]:
    """Return implicit's confidence for positive weights: ``alpha * w``."""
    return alpha * np.asarray(weights, dtype=np.float64)


def fold_in(
    item_factors: FloatArray,
    gram: FloatArray,
    item_indices: npt.NDArray[np.integer],
    weights: FloatArray,
    regularization: float,
    alpha: float,
    validate: bool = True,
) -> npt.NDArray[np.float32]:
    """Solve the ALS least-squares step for one user with unique item indices, positive weights.

    ``validate=False`` skips the input checks, for callers that built the inputs themselves
    (Model does, on every request, where the checks would cost a fifth of the time).
    """
    indices = np.asarray(item_indices, dtype=np.int64)
    values = np.asarray(weights, dtype=np.float64)
    if validate:
        _check_inputs(item_factors, gram, indices, values)
    n_factors = item_factors.shape[1]
    if indices.size == 0:
        return np.zeros(n_factors, dtype=np.float32)
    chosen = np.asarray(item_factors[indices], dtype=np.float64)
    confidence = confidences(values, alpha)
    lhs = gram + (chosen.T * (confidence - 1.0)) @ chosen
    if regularization:  # Model passes a gram with lambda*I already added (once per model)
        lhs += regularization * np.eye(n_factors)
    rhs = chosen.T @ confidence
    try:
        solution = np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:
        # Singular only with regularization 0 and too few items: take the least-norm answer.
        solution = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    return solution.astype(np.float32)


def _check_inputs(
    item_factors: FloatArray,
    gram: FloatArray,
    indices: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
) -> None:
    if item_factors.ndim != 2:
        raise ValueError(f"item_factors must be 2-D, got shape {item_factors.shape}")
    n_items, n_factors = item_factors.shape
    if gram.shape != (n_factors, n_factors):
        raise ValueError(f"gram must be {n_factors}x{n_factors}, got shape {gram.shape}")
    if indices.ndim != 1 or indices.shape != weights.shape:
        raise ValueError(
            f"item_indices and weights must be 1-D of equal length, got shapes "
            f"{indices.shape} and {weights.shape}"
        )
    if indices.size and (indices.min() < 0 or indices.max() >= n_items):
        raise ValueError(
            f"item_indices must be in [0, {n_items}), got {indices.min()}..{indices.max()}"
        )
    if np.unique(indices).size != indices.size:
        raise ValueError("item_indices must be unique")
    if not np.all(np.isfinite(weights) & (weights > 0)):
        raise ValueError("weights must be finite and positive")


def mean_fold_in(
    item_factors: FloatArray,
    item_indices: npt.NDArray[np.integer],
    weights: FloatArray,
    norm: float,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """Fold in a BPR user: the weight-averaged history item factors, scaled to ``norm``.

    BPR has no closed-form user step; the mean of what the user liked points the same way as a
    trained user vector, and the typical trained norm keeps its balance against the item bias.
    Returns the vector and each history item's coefficient in it (vector = sum_j coef_j y_j).
    """
    share = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
    vector = share @ np.asarray(item_factors[np.asarray(item_indices)], dtype=np.float64)
    length = float(np.linalg.norm(vector))
    scale = norm / length if length > 0 else 1.0
    return (vector * scale).astype(np.float32), share * scale


@dataclass(frozen=True)
class UserSystem:
    """One user's ALS normal equations ``A x = Y_h^T c``, factorised once per request.

    ``chosen`` holds the history items' factors (float32, history order), ``confidence`` their
    confidences; ``cholesky`` is A's upper Cholesky factor, or None when A is singular (only
    with regularization 0), in which case ``lhs`` (A itself) is solved by least squares.
    """

    chosen: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float64]
    lhs: npt.NDArray[np.float64]
    cholesky: npt.NDArray[np.float64] | None
    solution: npt.NDArray[np.float64] | None = None  # A^-1 Y_h^T c, when already solved

    def solve(self, rhs: FloatArray) -> npt.NDArray[np.float64]:
        """Return A^-1 rhs (rhs: factors, or factors x n)."""
        values = np.asarray(rhs, dtype=np.float64)
        if self.cholesky is None:
            solution = np.linalg.lstsq(self.lhs, values, rcond=None)[0]
            return np.asarray(solution, dtype=np.float64)
        solution, _ = dpotrs(self.cholesky, values)
        return np.asarray(solution, dtype=np.float64)

    def user_vector(self) -> npt.NDArray[np.float32]:
        """Return the folded-in user vector, A^-1 Y_h^T c."""
        if self.solution is not None:
            return self.solution.astype(np.float32)
        rhs = self.confidence @ np.asarray(self.chosen, dtype=np.float64)
        return self.solve(rhs).astype(np.float32)


# Up to this many history items the rank-h update is summed in the compiled call; above it BLAS
# is faster (measured equal at 50 items, 0.035 ms slower compiled at 200: bench_foldin).
COMPILED_UPDATE_MAX_ITEMS = 32


class AlsFoldIn:
    """The ALS user step against fixed item factors: YtY + lambda I once, per user one Cholesky.

    A = YtY + lambda I + sum_i (c_i - 1) y_i y_i^T is symmetric positive definite whenever
    lambda > 0 (every c_i > 0), so a Cholesky factorisation (no pivoting, no input checks)
    replaces the general LU solve: compiled, with the user vector's triangular solves, in one
    call. The rank-h update is summed there too for short histories; for long ones BLAS sums it
    in float32 (the factors' own precision) onto the float64 base.
    """

    def __init__(
        self, item_factors: npt.NDArray[np.float32], regularization: float, alpha: float
    ) -> None:
        self._factors = item_factors
        self._alpha = alpha
        self.base = gramian(item_factors) + regularization * np.eye(item_factors.shape[1])

    def system(
        self, item_indices: npt.NDArray[np.int64], weights: npt.NDArray[np.float64]
    ) -> UserSystem:
        """Build and factorise one user's system from unique, known indices and positive weights."""
        chosen = self._factors[item_indices]
        confidence = confidences(weights, self._alpha)
        if len(chosen) <= COMPILED_UPDATE_MAX_ITEMS:
            lhs, cholesky, solution, ok = _factorise(self.base, chosen, confidence, True)
        else:  # a long history: BLAS sums the rank-h update faster (in float32, onto float64)
            scaled = chosen.T * (confidence.astype(np.float32) - np.float32(1.0))
            start = self.base + scaled @ chosen
            lhs, cholesky, solution, ok = _factorise(start, chosen, confidence, False)
        if not ok:  # singular (regularization 0): least squares in UserSystem.solve
            return UserSystem(chosen, confidence, lhs, None)
        return UserSystem(chosen, confidence, lhs, cholesky, solution)


def _factorise_system(
    start: npt.NDArray[np.float64],
    chosen: npt.NDArray[np.float32],
    confidence: npt.NDArray[np.float64],
    add_update: bool,
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], bool
]:  # pragma: no cover - compiled; tested through AlsFoldIn against a direct solve
    """Return A = start (+ sum_j (c_j - 1) y_j y_j^T if ``add_update``), its upper Cholesky
    factor U (A = U^T U, in the upper triangle; below it what was left of A, as LAPACK's potrf
    leaves it), the solution of A x = sum_j c_j y_j, and whether A was positive definite.

    One compiled call with a working set of a few A-sized arrays: in a request, after the
    scoring pass has cycled the CPU caches, LAPACK's potrf and numpy's glue took ~0.04 ms more
    (paired in-process rounds of the API).
    """
    n = start.shape[0]
    lhs = start.copy()
    rhs = np.zeros(n, dtype=np.float64)
    for j in range(chosen.shape[0]):
        weight = confidence[j] - 1.0
        for a in range(n):
            value = float(chosen[j, a])
            rhs[a] += confidence[j] * value
            if add_update:
                scaled = weight * value
                for b in range(n):  # a contiguous row: vectorised
                    lhs[a, b] += scaled * float(chosen[j, b])
    upper = lhs.copy()  # factorised in place, row k of U replacing row k of A's upper part
    for k in range(n):  # right-looking: each step updates the trailing rows in place
        pivot = upper[k, k]
        if not pivot > 0.0:
            return lhs, upper, rhs, False
        root = np.sqrt(pivot)
        for i in range(k, n):
            upper[k, i] /= root
        for i in range(k + 1, n):
            factor = upper[k, i]
            for m in range(i, n):
                upper[i, m] -= factor * upper[k, m]
    solution = rhs.copy()
    cholesky_solve(upper, solution)
    return lhs, upper, solution, True


def _cholesky_solve_in_place(
    upper: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> None:  # pragma: no cover - compiled; tested through AlsFoldIn and explain
    """Overwrite ``values`` (b) with x solving U^T U x = b; U is the upper triangle of ``upper``
    (what is below it is not read)."""
    n = values.shape[0]
    for i in range(n):  # U^T z = b, forward
        total = values[i]
        for m in range(i):
            total -= upper[m, i] * values[m]
        values[i] = total / upper[i, i]
    for i in range(n - 1, -1, -1):  # U x = z, backward
        total = values[i]
        for m in range(i + 1, n):
            total -= upper[i, m] * values[m]
        values[i] = total / upper[i, i]


cholesky_solve = compiled(_cholesky_solve_in_place)
_factorise = compiled(_factorise_system)


class Folded(NamedTuple):
    """A user folded in: their known positive history (model item order) and their vector."""

    indices: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float64]
    vector: npt.NDArray[np.float32]
    system: UserSystem | None  # ALS only: the factorised normal equations, for explanations
    coefficients: npt.NDArray[np.float64] | None = None  # BPR only: vector = sum_j c_j y_j
