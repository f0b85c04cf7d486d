"""How much each event weighs during evaluation, and the in-memory store that applies it.

``events`` is what production does: the stream worker's weights (view 1, watch 2, like 4;
MovieLens 1-3 stars are views, 4 watches, 5 likes). ``binary`` makes every positive event weigh
1, like Microsoft Recommenders' benchmark ("every rating is a positive"); with one event per
(user, item), as in MovieLens, the matrix is then 0/1 and popularity counts ratings. The weight
is changed on the ``FeatureUpdate`` before the store applies it, so training, the request-time
fold-in, popularity and trending all see the same weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

from ingest.schema import WatchEvent
from stream.features import FeatureUpdate, feature_update
from stream.store import InMemoryFeatureStore

Weighting = Callable[[float], float]


def event_weight(weight: float) -> float:
    """Keep the stream worker's weight (production)."""
    return weight


def binary_weight(weight: float) -> float:
    """Make a positive weight 1; keep zero and negative weights (seen, disliked)."""
    return 1.0 if weight > 0 else weight


WEIGHTINGS: dict[str, Weighting] = {"events": event_weight, "binary": binary_weight}


class WeightedFeatureStore(InMemoryFeatureStore):
    """An in-memory feature store that re-weights each update before applying it."""

    def __init__(self, weighting: Weighting, trending_half_life_seconds: float) -> None:
        super().__init__(trending_half_life_seconds=trending_half_life_seconds)
        self.weighting = weighting

    def apply(self, updates: Sequence[FeatureUpdate]) -> int:
        """Apply the re-weighted updates once each; return how many were new."""
        return super().apply(
            [dataclasses.replace(u, weight=self.weighting(u.weight)) for u in updates]
        )


def new_store(weighting: str, trending_half_life_seconds: float) -> WeightedFeatureStore:
    """Return an empty store with the named weighting."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; use one of {sorted(WEIGHTINGS)}")
    return WeightedFeatureStore(WEIGHTINGS[weighting], trending_half_life_seconds)


def build_store(
    events: Iterable[WatchEvent], weighting: str, trending_half_life_seconds: float
) -> WeightedFeatureStore:
    """Apply events to a new store as the stream worker does (feature_update, then apply)."""
    store = new_store(weighting, trending_half_life_seconds)
    store.apply([feature_update(event) for event in events])
    return store
