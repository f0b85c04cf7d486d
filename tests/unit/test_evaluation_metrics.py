"""Top-k metrics against values computed by hand (Microsoft Recommenders' definitions)."""

from __future__ import annotations

import math

import pytest

from recommender.evaluation.metrics import hit_rate, ideal_dcg, ranking_metrics


def test_metrics_of_a_small_example_match_the_hand_computation() -> None:
    recommended = {
        "A": ["a", "b", "c", "d"],  # hits at ranks 1 and 3 of 3 relevant items
        "B": ["x", "y", "z", "w"],  # one hit at rank 3 of 1 relevant item
        "D": ["a", "b", "c", "d"],  # no relevant items: not counted
    }
    relevant = {"A": {"a", "c", "q"}, "B": {"z"}, "C": {"q"}}  # C got no recommendations
    metrics = ranking_metrics(recommended, relevant, k=4)

    assert metrics.n_users == 2
    assert metrics.precision == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert metrics.recall == pytest.approx((2 / 3 + 1 / 1) / 2)
    # Average precision: (1/1 + 2/3) / 3 for A, (1/3) / 1 for B.
    assert metrics.map == pytest.approx(((1 + 2 / 3) / 3 + 1 / 3) / 2)
    assert metrics.map_at_k == pytest.approx(metrics.map)  # nobody has more than k relevant
    ndcg_a = (1 / math.log(2) + 1 / math.log(4)) / (
        1 / math.log(2) + 1 / math.log(3) + 1 / math.log(4)
    )
    ndcg_b = (1 / math.log(4)) / (1 / math.log(2))
    assert metrics.ndcg == pytest.approx((ndcg_a + ndcg_b + 0.0) / 3)  # C counts as 0


def test_map_at_k_divides_by_at_most_k_relevant_items() -> None:
    metrics = ranking_metrics({"A": ["a", "b", "x"]}, {"A": {"a", "b", "c", "d"}}, k=2)
    assert metrics.precision == pytest.approx(1.0)
    assert metrics.recall == pytest.approx(0.5)
    assert metrics.map == pytest.approx(2 / 4)
    assert metrics.map_at_k == pytest.approx(2 / 2)
    assert metrics.ndcg == pytest.approx(1.0)


def test_only_the_first_k_recommendations_count() -> None:
    metrics = ranking_metrics({"A": ["x", "y", "a"]}, {"A": {"a"}}, k=2)
    assert metrics.precision == 0.0
    assert metrics.ndcg == 0.0


def test_no_common_user_scores_zero() -> None:
    metrics = ranking_metrics({"A": ["a"]}, {"B": {"a"}}, k=10)
    assert (metrics.precision, metrics.recall, metrics.map, metrics.ndcg) == (0.0, 0.0, 0.0, 0.0)
    assert metrics.n_users == 0


def test_ideal_dcg_stops_at_k() -> None:
    assert ideal_dcg(1, 10) == pytest.approx(1 / math.log(2))
    assert ideal_dcg(50, 2) == pytest.approx(1 / math.log(2) + 1 / math.log(3))


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be"):
        ranking_metrics({}, {}, k=0)


def test_hit_rate_is_the_share_of_hits() -> None:
    assert hit_rate([True, False, True, True]) == pytest.approx(0.75)
    assert hit_rate([]) == 0.0
