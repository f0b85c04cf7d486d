"""The streaming replay counts hits before applying each event, on tiny scripted streams."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.schema import WatchEvent
from ingest.settings import Settings
from ingest.sources import interaction_event
from recommender.evaluation.prequential import (
    FrozenVariant,
    RetrainingVariant,
    ServiceVariant,
    Variant,
    replay,
    windowed_hit_rate,
)
from recommender.evaluation.static import train_from_store
from recommender.evaluation.weighting import build_store, new_store
from recommender.model import Model
from stream.store import FeatureStore

SETTINGS = Settings(als_factors=4, als_regularization=0.1, als_alpha=2.0, als_iterations=20)
START_MS = 1_700_000_000_000


def stream(pairs: list[tuple[str, str]]) -> list[WatchEvent]:
    """Return one watch event per (user_id, item_id), one second apart."""
    return [
        interaction_event(user, item, START_MS + 1000 * n, "watch")
        for n, (user, item) in enumerate(pairs)
    ]


def two_tastes() -> list[WatchEvent]:
    """Twenty users watch nine of the twelve "a" items, twenty others nine of the "b" items."""
    pairs = [
        (f"{taste}-user{u}", f"{taste}{(u + i) % 12}")
        for taste in "ab"
        for u in range(20)
        for i in range(9)
    ]
    return stream(pairs)


class FixedVariant(Variant):
    """Always recommends the same items."""

    def __init__(self, items: list[str]) -> None:
        self.name, self.items = "fixed", items

    def top_k(self, user_id: str) -> list[str]:
        """Return the fixed items."""
        return self.items


class EchoVariant(Variant):
    """Recommends what the store says the user has interacted with so far."""

    def __init__(self, store: FeatureStore) -> None:
        self.name, self.store = "echo", store

    def top_k(self, user_id: str) -> list[str]:
        """Return the user's items in the store right now."""
        return sorted(self.store.user_items(user_id))


class BrokenVariant(Variant):
    """Raises for one user, like an API request failing."""

    def __init__(self) -> None:
        self.name = "broken"

    def top_k(self, user_id: str) -> list[str]:
        """Return ["a"], or raise for user u2."""
        if user_id == "u2":
            raise RuntimeError("boom")
        return ["a"]


@pytest.fixture(scope="module")
def model() -> Model:
    """Train one tiny ALS model on the two-taste history."""
    return train_from_store(build_store(two_tastes(), "events", 86_400.0), SETTINGS)


def test_a_hit_is_counted_when_the_events_item_is_in_the_top_k() -> None:
    events = stream([("u1", "a"), ("u1", "c"), ("u2", "b"), ("u2", "d")])
    result = replay(events, new_store("events", 86_400.0), [FixedVariant(["a", "b"])])
    assert result.hits["fixed"].tolist() == [True, False, True, False]
    assert result.hit_rate("fixed") == pytest.approx(0.5)
    assert result.timestamps_ms.tolist() == [event.timestamp for event in events]


def test_a_failing_request_counts_as_a_miss_and_is_recorded() -> None:
    events = stream([("u1", "a"), ("u2", "a"), ("u3", "a")])
    result = replay(events, new_store("events", 86_400.0), [BrokenVariant()])
    assert result.hits["broken"].tolist() == [True, False, True]
    [failure] = result.failures["broken"]
    assert (failure.index, failure.user_id) == (1, "u2")
    assert "boom" in failure.error


def test_each_event_is_asked_about_before_it_is_applied() -> None:
    store = new_store("events", 86_400.0)
    events = stream([("u1", "a"), ("u1", "a"), ("u1", "b")])  # "a" twice, at different times
    result = replay(events, store, [EchoVariant(store)])
    assert result.hits["echo"].tolist() == [False, True, False]
    assert store.user_items("u1") == {"a": 4.0, "b": 2.0}  # every event applied, in order


def test_the_retraining_variant_retrains_every_n_events(model: Model) -> None:
    store = build_store(two_tastes(), "events", 86_400.0)
    variant = RetrainingVariant("retrain", store, model, SETTINGS, every=2)
    events = stream([("new", "a0"), ("new", "a1"), ("new", "a2"), ("new", "a3"), ("new", "a4")])
    result = replay(events, store, [variant])
    assert len(result.retrain_seconds["retrain"]) == 2
    assert variant.models.model is not model


def test_fold_in_personalises_a_new_user_from_their_first_events(model: Model) -> None:
    store = build_store(two_tastes(), "events", 86_400.0)
    variant = ServiceVariant("fold-in", store, model)
    events = stream([("new", "a0"), ("new", "a1"), ("new", "a2"), ("new", "a3")])
    result = replay(events, store, [variant])
    assert result.hits["fold-in"][1:].all()  # after one "a" item, the next "a" items are hits
    top = variant.top_k("new")
    assert sum(item.startswith("a") for item in top) > sum(item.startswith("b") for item in top)


def test_the_frozen_variant_ignores_events_after_the_cut_except_to_exclude_them(
    model: Model,
) -> None:
    store = build_store(two_tastes(), "events", 86_400.0)
    variant = FrozenVariant("static", store, model)
    replay(stream([("new", "a0"), ("new", "a1")]), store, [variant])
    popular = [item for item, _ in model.popular_items(20) if item not in {"a0", "a1"}]
    assert variant.top_k("new") == popular[:10]


def test_windowed_hit_rate_covers_every_event_once() -> None:
    ends, rates = windowed_hit_rate(np.array([True, False, True, True, False]), window=2)
    assert ends.tolist() == [2, 4, 5]
    assert rates.tolist() == pytest.approx([0.5, 1.0, 0.0])
