"""The static protocol and the grid, on tiny generated two-taste data."""

from __future__ import annotations

import pytest

from ingest.schema import WatchEvent
from ingest.settings import Settings
from ingest.sources import interaction_event
from recommender.evaluation.static import evaluate
from recommender.evaluation.tuning import Candidate, als_grid, best_trial, run_grid
from recommender.evaluation.weighting import build_store

BASE = Settings(random_seed=7)
START_MS = 1_700_000_000_000


def events_for(pairs: list[tuple[str, str]], event_type: str = "watch") -> list[WatchEvent]:
    """Return one event per (user_id, item_id), one second apart."""
    return [
        interaction_event(user, item, START_MS + 1000 * n, event_type)
        for n, (user, item) in enumerate(pairs)
    ]


def two_tastes(items: range) -> list[tuple[str, str]]:
    """Return (user, item) pairs: "a" users watch the given "a" items, "b" users "b" items."""
    return [
        (f"{taste}-user{u}", f"{taste}{(u + i) % 12}")
        for taste in "ab"
        for u in range(20)
        for i in items
    ]


def test_binary_weighting_counts_every_positive_event_as_one() -> None:
    store = build_store(events_for([("u1", "x"), ("u2", "x")], "like"), "binary", 86_400.0)
    assert store.user_items("u1") == {"x": 1.0}
    assert store.popular_items(1) == [("x", 2.0)]


def test_events_weighting_keeps_the_stream_workers_weights() -> None:
    store = build_store(events_for([("u1", "x")], "like"), "events", 86_400.0)
    assert store.user_items("u1") == {"x": 4.0}


def test_unknown_weighting_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown weighting"):
        build_store([], "bm25", 86_400.0)


def test_als_finds_each_users_held_out_items_and_beats_popularity() -> None:
    train = events_for(two_tastes(range(8)))
    test = events_for(two_tastes(range(8, 10)))
    settings = Candidate("als", "binary", 4, 0.1, 2.0, 20).settings(BASE)
    als = evaluate("ALS", train, test, settings, "binary")
    popular = evaluate("Most popular", train, test, None, "binary")
    assert als.metrics.n_users == 40
    assert als.metrics.recall > 0.8
    assert als.metrics.ndcg > popular.metrics.ndcg


def test_candidate_settings_carry_the_parameters() -> None:
    als = Candidate("als", "binary", 32, 5.0, 7.0, 9).settings(BASE)
    assert (als.algorithm, als.als_factors, als.als_regularization) == ("als", 32, 5.0)
    assert (als.als_alpha, als.als_iterations) == (7.0, 9)
    bpr = Candidate("bpr", "binary", 16, 0.01, iterations=20, learning_rate=0.05).settings(BASE)
    assert (bpr.algorithm, bpr.bpr_factors, bpr.bpr_learning_rate) == ("bpr", 16, 0.05)
    assert "alpha" not in Candidate("bpr", "binary", 16, 0.01).describe()


def test_the_grid_scores_every_candidate_and_picks_the_best_on_validation() -> None:
    candidates = als_grid(("binary",), (4,), (0.1, 1000.0), (2.0,), (15,))
    trials = run_grid(candidates, events_for(two_tastes(range(10))), BASE)
    assert [trial.candidate for trial in trials] == candidates
    best = best_trial(trials)
    assert best.metrics.ndcg == max(trial.metrics.ndcg for trial in trials)
    assert best.candidate.regularization == 0.1  # an absurd regularization loses
