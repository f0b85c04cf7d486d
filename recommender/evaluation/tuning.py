"""A small grid search on a validation split carved from the training part only (no I/O).

Candidates are scored with ``Model.recommend``, the ranking step of ``RecommendationService``
(seen items excluded), without the service's explanation step, which does not change the order
and would make the grid several times slower.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ingest.schema import WatchEvent
from ingest.settings import Settings
from recommender.evaluation.metrics import RankingMetrics, ranking_metrics
from recommender.evaluation.split import stratified_split
from recommender.evaluation.static import K, relevant_items, train_from_store
from recommender.evaluation.weighting import build_store
from recommender.model import Model
from stream.store import FeatureStore

VALIDATION_RATIO = 0.75


@dataclass(frozen=True)
class Candidate:
    """One point of the grid: an algorithm, its parameters and the event weighting."""

    algorithm: str  # "als" | "bpr"
    weighting: str
    factors: int
    regularization: float
    alpha: float = 0.0  # ALS only
    iterations: int = 15
    learning_rate: float = 0.0  # BPR only

    def settings(self, base: Settings) -> Settings:
        """Return ``base`` with this candidate's training parameters."""
        prefix = "als" if self.algorithm == "als" else "bpr"
        update: dict[str, Any] = {
            "algorithm": self.algorithm,
            f"{prefix}_factors": self.factors,
            f"{prefix}_regularization": self.regularization,
            f"{prefix}_iterations": self.iterations,
        }
        if self.algorithm == "als":
            update["als_alpha"] = self.alpha
        else:
            update["bpr_learning_rate"] = self.learning_rate
        return base.model_copy(update=update)

    def describe(self) -> dict[str, Any]:
        """Return the parameters that matter for this algorithm."""
        unused = {"alpha"} if self.algorithm == "bpr" else {"learning_rate"}
        return {key: value for key, value in asdict(self).items() if key not in unused}


@dataclass(frozen=True)
class Trial:
    """A candidate's validation scores and training time."""

    candidate: Candidate
    metrics: RankingMetrics
    train_seconds: float


def als_grid(
    weightings: Iterable[str],
    factors: Iterable[int],
    regularization: Iterable[float],
    alpha: Iterable[float],
    iterations: Iterable[int],
) -> list[Candidate]:
    """Return every ALS combination of the given values."""
    combos = itertools.product(weightings, factors, regularization, alpha, iterations)
    return [Candidate("als", w, f, r, a, i) for w, f, r, a, i in combos]


def bpr_grid(
    weightings: Iterable[str],
    factors: Iterable[int],
    regularization: Iterable[float],
    learning_rate: Iterable[float],
    iterations: Iterable[int],
) -> list[Candidate]:
    """Return every BPR combination of the given values."""
    combos = itertools.product(weightings, factors, regularization, learning_rate, iterations)
    return [Candidate("bpr", w, f, r, 0.0, i, lr) for w, f, r, lr, i in combos]


def validation_split(
    train: Sequence[WatchEvent], seed: int
) -> tuple[list[WatchEvent], list[WatchEvent]]:
    """Split the training part again, per item 75/25, into fit and validation parts."""
    return stratified_split(train, lambda event: event.item_id, VALIDATION_RATIO, seed)


def rank_for_users(
    model: Model, store: FeatureStore, user_ids: Iterable[str]
) -> dict[str, list[str]]:
    """Return each user's top-k item ids from the model, their seen items excluded."""
    ranked = {}
    for user_id in user_ids:
        user_items = store.user_items(user_id)
        ranked[user_id] = [i for i, _ in model.recommend(user_items, K, exclude=set(user_items))]
    return ranked


def run_grid(
    candidates: Sequence[Candidate],
    train: Sequence[WatchEvent],
    base: Settings,
    progress: Callable[[Sequence[Candidate]], Iterable[Candidate]] = iter,
) -> list[Trial]:
    """Fit every candidate on the fit part and score it on the validation part."""
    fit, validation = validation_split(train, base.random_seed)
    relevant = relevant_items(validation)
    users = sorted({event.user_id for event in fit} & set(relevant))
    stores = {
        weighting: build_store(fit, weighting, base.trending_half_life_seconds)
        for weighting in sorted({candidate.weighting for candidate in candidates})
    }
    trials = []
    for candidate in progress(candidates):
        started = time.perf_counter()
        model = train_from_store(stores[candidate.weighting], candidate.settings(base))
        seconds = time.perf_counter() - started
        ranked = rank_for_users(model, stores[candidate.weighting], users)
        trials.append(Trial(candidate, ranking_metrics(ranked, relevant, K), seconds))
    return trials


def best_trial(trials: Sequence[Trial]) -> Trial:
    """Return the trial with the best validation nDCG@10 (then precision@10)."""
    if not trials:
        raise ValueError("no trials to choose from")
    return max(trials, key=lambda trial: (trial.metrics.ndcg, trial.metrics.precision))
