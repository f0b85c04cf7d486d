"""A user's item weights in model terms: the rows of their known items with a positive weight."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Rows = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]

# From this many items in a history, looking them up with numpy (a C-level pass for each step)
# beats a Python loop over them; below it the loop's fixed cost is lower. In-process, after a
# scoring pass has cycled the CPU caches (ms, loop vs numpy): 10 items 0.020 vs 0.028, 50 items
# 0.039 vs 0.037, 200 items 0.098 vs 0.070.
VECTORISED_HISTORY_MIN_ITEMS = 64


def known_positive_rows(item_index: dict[str, int], user_items: dict[str, float]) -> Rows | None:
    """Return the model rows (ascending) and weights of the user's items that the model knows
    and that have a finite positive weight; None if there are none.

    Rows ascend whatever the dict's order, so that the same history gives the same answer.
    """
    if len(user_items) >= VECTORISED_HISTORY_MIN_ITEMS:
        return _vectorised(item_index, user_items)
    get = item_index.get  # one pass, one dict lookup per item: this runs on every request
    indices: list[int] = []
    weights: list[float] = []
    for item_id, weight in user_items.items():
        if 0 < weight < math.inf:  # positive and finite (NaN fails both)
            index = get(item_id)
            if index is not None:
                indices.append(index)
                weights.append(weight)
    if not indices:
        return None
    found = np.array(indices, dtype=np.int64)
    order = np.argsort(found)
    return found[order], np.array(weights, dtype=np.float64)[order]


def _vectorised(item_index: dict[str, int], user_items: dict[str, float]) -> Rows | None:
    # The same as the loop: ids unknown to the model look up as None, a float array's NaN.
    rows = np.array(list(map(item_index.get, user_items)), dtype=np.float64)
    weights = np.fromiter(user_items.values(), dtype=np.float64, count=len(user_items))
    usable = (weights > 0) & (weights < math.inf) & (rows == rows)  # NaN != NaN
    if not usable.any():
        return None
    found = rows[usable].astype(np.int64)
    order = np.argsort(found)
    return found[order], weights[usable][order]
