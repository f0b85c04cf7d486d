"""Forward-decayed trending scores (pure)."""

import pytest

from stream import trending
from stream.trending import TrendingScores

HOUR_MS = 3_600_000


def test_forward_weight_doubles_per_half_life_after_the_landmark() -> None:
    assert trending.forward_weight(3.0, 0, 0, HOUR_MS) == 3.0
    assert trending.forward_weight(3.0, 2 * HOUR_MS, 0, HOUR_MS) == 12.0
    assert trending.forward_weight(3.0, -HOUR_MS, 0, HOUR_MS) == 1.5
    assert trending.forward_weight(1.0, -5000 * HOUR_MS, 0, HOUR_MS) == 0.0


def test_normalised_is_the_weight_at_the_newest_event_time() -> None:
    stored = trending.forward_weight(4.0, 5 * HOUR_MS, 0, HOUR_MS)
    assert trending.normalised(stored, 0, 5 * HOUR_MS, HOUR_MS) == 4.0
    assert trending.normalised(stored, 0, 7 * HOUR_MS, HOUR_MS) == 1.0


def test_event_times_far_in_the_future_count_as_now_plus_tolerance() -> None:
    assert trending.trending_time_ms(1_000, now_ms=5_000) == 1_000
    assert trending.trending_time_ms(10**15, now_ms=5_000) == 5_000 + trending.MAX_FUTURE_MS


def test_scores_rebase_before_the_exponent_grows_large() -> None:
    scores = TrendingScores(half_life_ms=HOUR_MS)
    scores.add("a", 1.0, 0)
    scores.add("b", 1.0, 20 * HOUR_MS)
    assert scores.landmark_ms == 0
    far = int((trending.REBASE_AFTER_HALF_LIVES + 1) * HOUR_MS)
    scores.add("c", 2.0, far)
    assert scores.landmark_ms == far
    assert max(scores.scores.values()) == 2.0
    assert "a" not in scores.scores  # faded below PRUNE_BELOW at the rebase
    assert dict(scores.top(3)) == pytest.approx({"c": 2.0, "b": 2.0**-13})


def test_rebase_keeps_the_ranking_and_normalised_scores() -> None:
    plain, rebased = TrendingScores(HOUR_MS), TrendingScores(HOUR_MS)
    events = [("a", 1.0, 0), ("b", 3.0, HOUR_MS), ("a", 1.0, 2 * HOUR_MS)]
    for item, weight, t in events:
        plain.add(item, weight, t)
        rebased.add(item, weight, t)
    rebased._rebase(2 * HOUR_MS)
    assert dict(plain.top(2)) == pytest.approx(dict(rebased.top(2)))
    assert [item for item, _ in rebased.top(2)] == ["b", "a"]


def test_non_positive_events_move_the_clock_but_add_nothing() -> None:
    scores = TrendingScores(HOUR_MS)
    scores.add("a", 2.0, 0)
    scores.add("b", 0.0, HOUR_MS)
    assert scores.top(5) == [("a", 1.0)]
