"""Train/test splits: Microsoft Recommenders' stratified split and a split by time (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

Row = TypeVar("Row")


def stratified_split(
    rows: Sequence[Row], group_of: Callable[[Row], str], ratio: float = 0.75, seed: int = 42
) -> tuple[list[Row], list[Row]]:
    """Split each group's rows ratio/(1-ratio) at random, like ``python_stratified_split``.

    Replicates recommenders' ``_do_stratification`` with ``is_random=True``: one uniform draw per
    row in input order from numpy's legacy generator seeded with ``seed``; within a group, rows
    ranked by their draw go to train while ``rank / count <= ratio``. Both parts keep input order.
    """
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be strictly between 0 and 1, got {ratio}")
    draws = np.random.RandomState(seed).rand(len(rows))
    groups = [group_of(row) for row in rows]
    in_train = np.zeros(len(rows), dtype=bool)
    for members in _members_by_group(groups).values():
        ordered = members[np.argsort(draws[members], kind="stable")]
        ranks = np.arange(1, ordered.size + 1) / ordered.size
        in_train[ordered[ranks <= ratio]] = True
    train = [row for row, keep in zip(rows, in_train, strict=True) if keep]
    test = [row for row, keep in zip(rows, in_train, strict=True) if not keep]
    return train, test


def _members_by_group(groups: Sequence[str]) -> dict[str, np.ndarray]:
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    return {group: np.asarray(indices, dtype=np.int64) for group, indices in members.items()}


def time_split(
    rows: Sequence[Row], time_of: Callable[[Row], int], fraction: float = 0.5
) -> tuple[list[Row], list[Row]]:
    """Sort rows by time (ties keep input order) and cut after the first ``fraction`` of them."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be strictly between 0 and 1, got {fraction}")
    ordered = sorted(rows, key=time_of)
    cut = int(round(len(ordered) * fraction))
    return ordered[:cut], ordered[cut:]
