"""A trained model: item ids, item factors and metadata; users are folded in at request time."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.errors import NotFound
from recommender.foldin import confidences, fold_in, gramian, mean_fold_in
from recommender.matrix import positive_items

Scored = list[tuple[str, float]]


class Model:
    """Item factors of a trained ALS model; immutable once built (arrays are read-only)."""

    def __init__(
        self,
        version: str,
        item_ids: npt.ArrayLike,
        item_factors: npt.ArrayLike,
        metadata: dict[str, Any],
    ) -> None:
        ids, factors = _checked_arrays(item_ids, item_factors)
        if metadata.get("version", version) != version:
            raise ValueError(f"metadata version {metadata['version']!r} != version {version!r}")
        try:
            params = metadata.get("foldin") or metadata["params"]
            self._regularization = float(params["regularization"])
            self._alpha = float(params["alpha"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"metadata.params needs regularization and alpha: {exc}") from None
        ids.setflags(write=False)
        factors.setflags(write=False)
        self._version = version
        self._item_ids = ids
        self._item_factors = factors  # as stored; for BPR the last column is the item bias
        self._metadata = metadata
        self._item_index = {str(item_id): index for index, item_id in enumerate(ids)}
        self._item_bias: npt.NDArray[np.float32] | None = None
        if metadata.get("item_bias"):
            # BPR: implicit keeps each item's bias as the last factor (users' last factor is 1).
            factors, self._item_bias = factors[:, :-1].copy(), factors[:, -1].copy()
        self._factors = factors  # what user vectors multiply
        self._gram = gramian(factors)
        self._regularized_gram = self._gram + self._regularization * np.eye(factors.shape[1])
        self._user_norm = float(metadata.get("user_norm", 1.0))

    def __repr__(self) -> str:
        n_items, n_factors = self._item_factors.shape
        return f"Model(version={self._version!r}, n_items={n_items}, factors={n_factors})"

    @property
    def version(self) -> str:
        """Return the version name (sortable by training time)."""
        return self._version

    @property
    def item_ids(self) -> npt.NDArray[np.str_]:
        """Return the item ids, row i naming row i of item_factors."""
        return self._item_ids

    @property
    def item_factors(self) -> npt.NDArray[np.float32]:
        """Return the n_items x factors float32 item factors."""
        return self._item_factors

    @property
    def metadata(self) -> dict[str, Any]:
        """Return the JSON-able metadata (version, trained_at, params, counts, popular items)."""
        return self._metadata

    @property
    def item_index(self) -> dict[str, int]:
        """Return item_id -> row of item_factors."""
        return self._item_index

    @property
    def gram(self) -> npt.NDArray[np.float64]:
        """Return YtY of the item factors (cached for fold-in)."""
        return self._gram

    @cached_property
    def _unit_factors(self) -> npt.NDArray[np.float32]:
        norms = np.linalg.norm(self._factors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (self._factors / norms).astype(np.float32)

    def user_vector(self, user_items: dict[str, float]) -> npt.NDArray[np.float32] | None:
        """Fold in the user's positive items known to the model; None if there are none."""
        history = self._history(user_items)
        if history is None:
            return None
        indices, weights = history
        if self._item_bias is not None:
            return mean_fold_in(self._factors, indices, weights, self._user_norm)
        return fold_in(
            self._factors,
            self._regularized_gram,
            indices,
            weights,
            0.0,  # lambda*I is already in the regularized gram
            self._alpha,
            validate=False,  # _history built unique, known indices and positive finite weights
        )

    def _history(
        self, user_items: dict[str, float]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
        known = [
            (self._item_index[item_id], weight)
            for item_id, weight in sorted(positive_items(user_items).items())
            if item_id in self._item_index
        ]
        if not known:
            return None
        indices = np.fromiter((index for index, _ in known), dtype=np.int64, count=len(known))
        weights = np.fromiter((weight for _, weight in known), dtype=np.float64, count=len(known))
        return indices, weights

    def recommend(
        self,
        user_items: dict[str, float],
        k: int,
        exclude: set[str],
        allowed: set[str] | None = None,
    ) -> Scored:
        """Return the user's top k (item_id, score), best first, without ``exclude``.

        With ``allowed``, only those items are candidates (e.g. one category).
        """
        vector = self.user_vector(user_items)
        if vector is None:
            return []
        return self._top_k(self._scores(vector), k, self._banned(exclude, allowed))

    def recommend_explained(
        self,
        user_items: dict[str, float],
        k: int,
        exclude: set[str],
        allowed: set[str] | None = None,
        top: int = 3,
    ) -> list[tuple[str, float, list[str]]]:
        """Do ``recommend`` and ``explain`` together, folding the user in once.

        For ALS one solve gives both: with S = A^-1 Y_h^T, the user vector is S c and the
        contributions are y_i^T S scaled by c.
        """
        history = self._history(user_items)
        if history is None:
            return []
        indices, weights = history
        solved = None
        if self._item_bias is not None:
            vector = mean_fold_in(self._factors, indices, weights, self._user_norm)
        else:
            confidence = confidences(weights, self._alpha)
            solved = self._solve_history(indices, confidence)
            vector = (solved @ confidence).astype(np.float32)
        ranked = self._top_k(self._scores(vector), k, self._banned(exclude, allowed))
        targets = [self._item_index[item_id] for item_id, _ in ranked]
        contributions = self._contributions(targets, indices, weights, solved)
        return [
            (item_id, score, self._reasons(contributions[row], indices, top))
            for row, (item_id, score) in enumerate(ranked)
        ]

    def _banned(self, exclude: set[str], allowed: set[str] | None) -> npt.NDArray[np.int64]:
        banned = self._indices_of(exclude)
        if allowed is not None:
            banned = np.union1d(banned, self._indices_not_in(allowed))
        return banned

    def _scores(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.floating]:
        scores = self._factors @ vector
        return scores if self._item_bias is None else scores + self._item_bias

    def explain(
        self, user_items: dict[str, float], item_ids: list[str], top: int = 3
    ) -> dict[str, list[str]]:
        """Name, per recommended item, the history items that contributed most to its score.

        The folded-in score is linear in the history: score_i = sum_j c_j y_i^T A^-1 y_j, so
        each history item j has an exact additive contribution (as in implicit's ``explain``).
        """
        history = self._history(user_items)
        targets = [self._item_index[i] for i in item_ids if i in self._item_index]
        if history is None or not targets:
            return {item_id: [] for item_id in item_ids}
        indices, weights = history
        contributions = self._contributions(targets, indices, weights)  # targets x history
        reasons: dict[str, list[str]] = {item_id: [] for item_id in item_ids}
        for row, target in enumerate(targets):
            reasons[str(self._item_ids[target])] = self._reasons(contributions[row], indices, top)
        return reasons

    def _reasons(
        self, contributions: npt.NDArray[np.floating], indices: npt.NDArray[np.int64], top: int
    ) -> list[str]:
        order = np.argsort(-contributions, kind="stable")[:top]
        return [str(self._item_ids[indices[j]]) for j in order if contributions[j] > 0]

    def similar_items(self, item_id: str, k: int) -> Scored:
        """Return the k items most cosine-similar to ``item_id`` (not itself), best first."""
        index = self._item_index.get(item_id)
        if index is None:
            raise NotFound(
                f"item {item_id!r} is not in model {self._version}", {"item_id": item_id}
            )
        scores = self._unit_factors @ self._unit_factors[index]
        return self._top_k(scores, k, np.array([index], dtype=np.int64))

    def popular_items(self, k: int) -> Scored:
        """Return the k most popular training items (by summed weight) with their weights."""
        popular = self._metadata.get("popular_items", [])
        return [(str(item_id), float(score)) for item_id, score in popular[: max(k, 0)]]

    def _contributions(
        self,
        targets: list[int],
        indices: npt.NDArray[np.int64],
        weights: npt.NDArray[np.float64],
        solved: npt.NDArray[np.floating] | None = None,
    ) -> npt.NDArray[np.floating]:
        chosen = np.asarray(self._factors[indices], dtype=np.float64)
        if self._item_bias is not None:  # mean fold-in: x = scale * sum_j share_j y_j
            share = weights / weights.sum()
            scale = self._user_norm / max(float(np.linalg.norm(share @ chosen)), 1e-12)
            return (self._factors[targets] @ chosen.T) * share * scale
        confidence = confidences(weights, self._alpha)
        if solved is None:
            solved = self._solve_history(indices, confidence)
        return (self._factors[targets] @ solved) * confidence

    def _solve_history(
        self, indices: npt.NDArray[np.int64], confidence: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.floating]:
        """Return A^-1 Y_h^T (factors x history), A the user's ALS normal-equations matrix."""
        chosen = np.asarray(self._factors[indices], dtype=np.float64)
        lhs = self._regularized_gram + (chosen.T * (confidence - 1.0)) @ chosen
        try:  # LU is ~5x cheaper than lstsq's SVD per request
            return np.linalg.solve(lhs, chosen.T)
        except np.linalg.LinAlgError:  # singular only with regularization 0
            return np.linalg.lstsq(lhs, chosen.T, rcond=None)[0]

    def _indices_not_in(self, item_ids: set[str]) -> npt.NDArray[np.int64]:
        keep = np.zeros(self._item_ids.size, dtype=bool)
        keep[self._indices_of(item_ids)] = True
        return np.flatnonzero(~keep)

    def _indices_of(self, item_ids: set[str]) -> npt.NDArray[np.int64]:
        found = [self._item_index[i] for i in item_ids if i in self._item_index]
        return np.array(sorted(found), dtype=np.int64)

    def _top_k(
        self, scores: npt.NDArray[np.floating], k: int, banned: npt.NDArray[np.int64]
    ) -> Scored:
        """Rank by score, ties by item id; argpartition keeps it O(n) for a big catalogue.

        ``scores`` must be a fresh array: banned entries are overwritten in place.
        """
        scores[banned] = -np.inf
        count = min(k, scores.size - banned.size)
        if count <= 0:
            return []
        if count < scores.size:
            top = np.argpartition(-scores, count - 1)[:count]
            # Every item tied with the k-th score competes, so ties resolve by id, not position.
            candidates = np.flatnonzero(scores >= scores[top].min())
        else:
            candidates = np.arange(scores.size)
        order = np.lexsort((self._item_ids[candidates], -scores[candidates]))
        chosen = candidates[order][:count]
        return [(str(self._item_ids[i]), float(scores[i])) for i in chosen]


def _checked_arrays(
    item_ids: npt.ArrayLike, item_factors: npt.ArrayLike
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.float32]]:
    ids = np.array(item_ids)
    if ids.size == 0:
        ids = ids.astype(np.str_)
    factors = np.array(item_factors)
    if ids.ndim != 1 or ids.dtype.kind != "U":
        raise ValueError(f"item_ids must be a 1-D unicode array, got {ids.dtype} {ids.shape}")
    if factors.ndim != 2 or factors.dtype.kind != "f":
        raise ValueError(
            f"item_factors must be a 2-D float array, got {factors.dtype} {factors.shape}"
        )
    if factors.shape[0] != ids.shape[0]:
        raise ValueError(
            f"item_factors has {factors.shape[0]} rows but there are {ids.shape[0]} item_ids"
        )
    if np.unique(ids).size != ids.size:
        raise ValueError("item_ids must be unique")
    if not np.all(np.isfinite(factors)):
        raise ValueError("item_factors must be finite")
    return ids, factors.astype(np.float32, copy=False)
