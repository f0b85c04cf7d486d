"""The held-out check a new model must pass before it replaces the one being served (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from recommender.matrix import UserItems, build_user_items
from recommender.model import Model

HOLDOUT_K = 10


@dataclass(frozen=True)
class Holdout:
    """A training matrix without some of each user's items, and those items."""

    train: UserItems
    train_rows: dict[str, dict[str, float]]
    held_out: dict[str, set[str]]


def split_holdout(rows: dict[str, dict[str, float]], fraction: float, seed: int) -> Holdout:
    """Hold out ``fraction`` of each user's positive items (at least one, users with >= 2)."""
    rng = random.Random(seed)
    train_rows: dict[str, dict[str, float]] = {}
    held_out: dict[str, set[str]] = {}
    for user_id in sorted(rows):
        positives = sorted(item for item, weight in rows[user_id].items() if weight > 0)
        count = max(1, round(fraction * len(positives))) if len(positives) >= 2 else 0
        hidden = set(rng.sample(positives, count))
        train_rows[user_id] = {i: w for i, w in rows[user_id].items() if i not in hidden}
        if hidden:
            held_out[user_id] = hidden
    return Holdout(build_user_items(train_rows.items()), train_rows, held_out)


def recall_at_k(model: Model, holdout: Holdout, k: int = HOLDOUT_K) -> float:
    """Mean over users of |top-k ∩ held out| / min(k, |held out|), seen items excluded."""
    if not holdout.held_out:
        return 0.0
    total = 0.0
    for user_id, hidden in holdout.held_out.items():
        user_items = holdout.train_rows[user_id]
        ranked = model.recommend(user_items, k, exclude=set(user_items))
        total += len({item_id for item_id, _ in ranked} & hidden) / min(k, len(hidden))
    return total / len(holdout.held_out)
