"""Per-user item weights -> the sparse user x item matrix ALS trains on (pure, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse


@dataclass(frozen=True)
class UserItems:
    """A users x items float32 CSR matrix of positive weights, rows and columns in id order."""

    user_ids: list[str]
    item_ids: list[str]
    matrix: scipy.sparse.csr_matrix

    @property
    def n_interactions(self) -> int:
        """Return the number of (user, item) entries."""
        return int(self.matrix.nnz)


def positive_items(user_items: dict[str, float]) -> dict[str, float]:
    """Keep the items with a finite positive weight (weight <= 0 means seen without signal)."""
    return {
        item_id: float(weight)
        for item_id, weight in user_items.items()
        if math.isfinite(weight) and weight > 0
    }


def build_user_items(rows: Iterable[tuple[str, dict[str, float]]]) -> UserItems:
    """Build the training matrix from (user_id, user_items) rows; only positive weights count.

    Users and items with no positive weight get no row or column. A user yielded twice (Redis
    SSCAN may repeat members) keeps its last row.
    """
    positives: dict[str, dict[str, float]] = {}
    for user_id, user_items in rows:
        kept = positive_items(user_items)
        if kept:
            positives[user_id] = kept
        else:
            positives.pop(user_id, None)
    user_ids = sorted(positives)
    item_ids = sorted({item_id for items in positives.values() for item_id in items})
    item_index = {item_id: index for index, item_id in enumerate(item_ids)}
    row_index: list[int] = []
    col_index: list[int] = []
    data: list[float] = []
    for row, user_id in enumerate(user_ids):
        for item_id, weight in sorted(positives[user_id].items()):
            row_index.append(row)
            col_index.append(item_index[item_id])
            data.append(weight)
    matrix = scipy.sparse.csr_matrix(
        (np.asarray(data, dtype=np.float32), (row_index, col_index)),
        shape=(len(user_ids), len(item_ids)),
        dtype=np.float32,
    )
    matrix.sort_indices()
    return UserItems(user_ids=user_ids, item_ids=item_ids, matrix=matrix)
