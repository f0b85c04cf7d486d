"""A trained model: item ids, item factors and metadata; users are folded in at request time."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.errors import NotFound
from recommender.explain import history_reasons
from recommender.foldin import AlsFoldIn, Folded, gramian, mean_fold_in
from recommender.history import known_positive_rows
from recommender.scoring import QuantizedScorer

Scored = list[tuple[str, float]]
Explained = list[tuple[str, float, list[str]]]


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
            regularization = float(params["regularization"])
            alpha = float(params["alpha"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"metadata.params needs regularization and alpha: {exc}") from None
        ids.setflags(write=False)
        factors.setflags(write=False)
        self._version = version
        self._item_ids = ids
        self._id_list: list[str] = ids.tolist()  # str per row without a numpy scalar each time
        self._item_factors = factors  # as stored; for BPR the last column is the item bias
        self._metadata = metadata
        self._item_index = {item_id: index for index, item_id in enumerate(self._id_list)}
        self._item_bias: npt.NDArray[np.float32] | None = None
        if metadata.get("item_bias"):
            # BPR: implicit keeps each item's bias as the last factor (users' last factor is 1).
            factors, self._item_bias = factors[:, :-1].copy(), factors[:, -1].copy()
        self._factors = factors  # what user vectors multiply
        # ALS users are solved in closed form; BPR ones (item bias) are a mean of their items.
        self._foldin = (
            None if self._item_bias is not None else AlsFoldIn(factors, regularization, alpha)
        )
        self._user_norm = float(metadata.get("user_norm", 1.0))
        self._scorer = QuantizedScorer(factors, ids, self._item_bias)
        if self._id_list:  # compile (or load from the cache) fold-in and reasons now too
            self.recommend_explained({self._id_list[0]: 1.0}, 1, set())

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
    def scorer(self) -> QuantizedScorer:
        """Return what ranks all items for a user vector (exact top k, int8 first pass)."""
        return self._scorer

    @property
    def item_index(self) -> dict[str, int]:
        """Return item_id -> row of item_factors."""
        return self._item_index

    @cached_property
    def gram(self) -> npt.NDArray[np.float64]:
        """Return YtY of the item factors."""
        return gramian(self._factors)

    @cached_property
    def _unit_factors(self) -> npt.NDArray[np.float32]:
        norms = np.linalg.norm(self._factors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (self._factors / norms).astype(np.float32)

    @cached_property
    def _similar_scorer(self) -> QuantizedScorer:
        return QuantizedScorer(self._unit_factors, self._item_ids)

    def user_vector(self, user_items: dict[str, float]) -> npt.NDArray[np.float32] | None:
        """Fold in the user's positive items known to the model; None if there are none."""
        folded = self.fold_in(user_items)
        return None if folded is None else folded.vector

    def fold_in(self, user_items: dict[str, float]) -> Folded | None:
        """Fold the user's finite positive weights on known items in; None if there are none."""
        history = known_positive_rows(self._item_index, user_items)
        if history is None:
            return None
        indices, weights = history
        if self._foldin is None:
            vector, coefficients = mean_fold_in(self._factors, indices, weights, self._user_norm)
            return Folded(indices, weights, vector, None, coefficients)
        system = self._foldin.system(indices, weights)
        return Folded(indices, weights, system.user_vector(), system)

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
        folded = self.fold_in(user_items)
        if folded is None:
            return []
        ranked = self._rank(folded, k, exclude, allowed)
        return [(self._id_list[index], score) for index, score in ranked]

    def recommend_explained(
        self,
        user_items: dict[str, float],
        k: int,
        exclude: set[str],
        allowed: set[str] | None = None,
        top: int = 3,
    ) -> Explained:
        """Do ``recommend`` and ``explain`` together, folding the user in once."""
        folded = self.fold_in(user_items)
        if folded is None:
            return []
        ranked = self._rank(folded, k, exclude, allowed)
        reasons = self._reasons(folded, [index for index, _ in ranked], top)
        return [
            (self._id_list[index], score, because)
            for (index, score), because in zip(ranked, reasons, strict=True)
        ]

    def explain(
        self, user_items: dict[str, float], item_ids: list[str], top: int = 3
    ) -> dict[str, list[str]]:
        """Name, per item, the (up to ``top``) history items that contributed most to its score.

        The contributions are exact and add up to the score (see ``recommender.explain``).
        """
        reasons: dict[str, list[str]] = {item_id: [] for item_id in item_ids}
        targets = [self._item_index[i] for i in item_ids if i in self._item_index]
        folded = self.fold_in(user_items) if targets else None
        if folded is None:
            return reasons
        for target, because in zip(targets, self._reasons(folded, targets, top), strict=True):
            reasons[self._id_list[target]] = because
        return reasons

    def _reasons(self, folded: Folded, targets: list[int], top: int) -> list[list[str]]:
        rows = history_reasons(self._factors, folded, targets, top)
        return [[self._id_list[row] for row in because] for because in rows]

    def similar_items(self, item_id: str, k: int) -> Scored:
        """Return the k items most cosine-similar to ``item_id`` (not itself), best first."""
        index = self._item_index.get(item_id)
        if index is None:
            raise NotFound(
                f"item {item_id!r} is not in model {self._version}", {"item_id": item_id}
            )
        banned = np.zeros(self._item_ids.size, dtype=bool)
        banned[index] = True
        ranked = self._similar_scorer.top(self._unit_factors[index], k, banned, 1)
        return [(self._id_list[i], score) for i, score in ranked]

    def popular_items(self, k: int) -> Scored:
        """Return the k most popular training items (by summed weight) with their weights."""
        popular = self._metadata.get("popular_items", [])
        return [(str(item_id), float(score)) for item_id, score in popular[: max(k, 0)]]

    def _rank(
        self,
        folded: Folded,
        k: int,
        exclude: set[str],
        allowed: set[str] | None,
    ) -> list[tuple[int, float]]:
        """Score every item, drop ``exclude`` and items not ``allowed``, return the top k."""
        banned, n_banned = self._banned(exclude, allowed)
        return self._scorer.top(folded.vector, k, banned, n_banned)

    def _banned(
        self, exclude: set[str], allowed: set[str] | None
    ) -> tuple[npt.NDArray[np.bool_], int]:
        """Return a mask of the rows never to return and how many there are."""
        get = self._item_index.get
        rows = [index for item_id in exclude if (index := get(item_id)) is not None]
        if allowed is None:
            mask = np.zeros(self._item_ids.size, dtype=bool)
            mask[rows] = True
            return mask, len(rows)  # from a set: no repeats
        mask = np.ones(self._item_ids.size, dtype=bool)
        mask[[index for item_id in allowed if (index := get(item_id)) is not None]] = False
        mask[rows] = True
        return mask, int(np.count_nonzero(mask))


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
