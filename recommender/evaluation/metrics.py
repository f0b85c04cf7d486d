"""Top-k ranking metrics as Microsoft Recommenders' ``python_evaluation`` computes them (pure).

Definitions (``relevancy_method="top_k"``, binary relevance), for the users that have both
relevant items and recommendations ("common users", as their ``merge_ranking_true_pred``):

- precision@k = mean over common users of hits / k
- recall@k = mean over common users of hits / |relevant|
- MAP = mean over common users of sum_j (j / rank_j) / |relevant|, j-th hit at rank_j
  (their ``map``; called ``map_at_k`` before recommenders 1.2 and reported as "MAP")
- MAP@k = the same divided by min(|relevant|, k) instead (their current ``map_at_k``)
- nDCG@k = DCG / ideal DCG with gain 1 and discount 1 / ln(1 + rank), averaged over every user
  with relevant items (a user without recommendations scores 0, as their outer merge does)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RankingMetrics:
    """Mean top-k metrics over users; ``n_users`` counts the common users."""

    precision: float
    recall: float
    ndcg: float
    map: float
    map_at_k: float
    n_users: int


@dataclass(frozen=True)
class _UserScores:
    hits: int
    reciprocal_sum: float
    dcg: float


def _score_user(top: Sequence[str], relevant: Collection[str]) -> _UserScores:
    hits, reciprocal_sum, dcg = 0, 0.0, 0.0
    for rank, item_id in enumerate(top, start=1):
        if item_id in relevant:
            hits += 1
            reciprocal_sum += hits / rank
            dcg += 1.0 / math.log(1 + rank)
    return _UserScores(hits, reciprocal_sum, dcg)


def ideal_dcg(n_relevant: int, k: int) -> float:
    """Return the best DCG reachable with n_relevant items in a top-k list."""
    return sum(1.0 / math.log(1 + rank) for rank in range(1, min(n_relevant, k) + 1))


def ranking_metrics(
    recommended: Mapping[str, Sequence[str]], relevant: Mapping[str, Collection[str]], k: int
) -> RankingMetrics:
    """Score top-k lists (best first) against each user's relevant items."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    relevant = {user_id: set(items) for user_id, items in relevant.items() if items}
    common = [u for u in relevant if recommended.get(u)]
    precision = recall = map_sum = map_k_sum = ndcg_sum = 0.0
    for user_id in common:
        truth = relevant[user_id]
        scores = _score_user(list(recommended[user_id])[:k], truth)
        precision += scores.hits / k
        recall += scores.hits / len(truth)
        map_sum += scores.reciprocal_sum / len(truth)
        map_k_sum += scores.reciprocal_sum / min(len(truth), k)
        ndcg_sum += scores.dcg / ideal_dcg(len(truth), k)
    n = len(common)
    return RankingMetrics(
        precision=precision / n if n else 0.0,
        recall=recall / n if n else 0.0,
        ndcg=ndcg_sum / len(relevant) if relevant else 0.0,
        map=map_sum / n if n else 0.0,
        map_at_k=map_k_sum / n if n else 0.0,
        n_users=n,
    )


def hit_rate(hits: Sequence[bool]) -> float:
    """Return the share of True values (0.0 for none)."""
    return sum(1 for hit in hits if hit) / len(hits) if hits else 0.0
