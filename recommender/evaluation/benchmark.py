"""The static protocol end to end: split, validation grids, then each model once on test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ingest.schema import WatchEvent
from ingest.settings import Settings
from recommender.evaluation.report import StaticSection
from recommender.evaluation.split import stratified_split
from recommender.evaluation.static import StaticResult, evaluate
from recommender.evaluation.tuning import (
    Candidate,
    Trial,
    als_grid,
    best_trial,
    bpr_grid,
    run_grid,
    validation_split,
)

SPLIT_RATIO = 0.75
SPLIT_SEED = 42  # the benchmark's, whatever STREAMREC_RANDOM_SEED says


def candidates(quick: bool) -> list[Candidate]:
    """Return the ALS and BPR grids (a handful of points in quick mode)."""
    if quick:
        return als_grid(("binary", "events"), (64,), (50, 80), (10, 15), (15,)) + bpr_grid(
            ("binary",), (64,), (0.001,), (0.01,), (50, 100)
        )
    als = als_grid(("binary", "events"), (64, 128), (50, 80, 120), (5, 10, 15, 25), (15, 30))
    bpr = bpr_grid(("binary",), (64, 128), (0.001, 0.01), (0.01,), (50, 100))
    return als + bpr


def choose(trials: Sequence[Trial]) -> dict[str, Trial]:
    """Return the best ALS, the best events-weighted ALS (deployable today) and the best BPR."""
    chosen = {}
    for key, keep in (
        ("als", lambda c: c.algorithm == "als"),
        ("als-events", lambda c: c.algorithm == "als" and c.weighting == "events"),
        ("bpr", lambda c: c.algorithm == "bpr"),
    ):
        matching = [t for t in trials if keep(t.candidate)]
        if matching:
            chosen[key] = best_trial(matching)
    return chosen


def final_results(
    train: Sequence[WatchEvent],
    test: Sequence[WatchEvent],
    settings: Settings,
    chosen: dict[str, Trial],
) -> list[StaticResult]:
    """Score the chosen models, production's default ALS and most-popular once on test."""
    names = {
        "als": "ALS (tuned)",
        "als-events": "ALS (tuned, events weighting)",
        "bpr": "BPR (tuned)",
    }
    results = []
    for key, trial in chosen.items():
        if key == "als-events" and chosen["als"].candidate.weighting == "events":
            continue  # the same model as the tuned ALS
        c = trial.candidate
        results.append(
            evaluate(names[key], train, test, c.settings(settings), c.weighting, c.describe())
        )
    defaults: dict[str, Any] = {
        "weighting": "events",
        "factors": settings.als_factors,
        "regularization": settings.als_regularization,
        "alpha": settings.als_alpha,
        "iterations": settings.als_iterations,
    }
    default_settings = settings.model_copy(update={"algorithm": "als"})
    results.append(
        evaluate("ALS (settings defaults)", train, test, default_settings, "events", defaults)
    )
    results.append(evaluate("Most popular", train, test, None, "binary", {"weighting": "binary"}))
    return results


def run_static(
    events: Sequence[WatchEvent],
    settings: Settings,
    quick: bool,
    progress: Callable[[Sequence[Candidate]], Iterable[Candidate]],
) -> StaticSection:
    """Split like the benchmark, tune on validation, score the chosen models on test."""
    started = time.perf_counter()
    train, test = stratified_split(events, lambda e: e.item_id, SPLIT_RATIO, SPLIT_SEED)
    trials = run_grid(candidates(quick), train, settings, progress)
    chosen = choose(trials)
    results = final_results(train, test, settings, chosen)
    fit, validation = validation_split(train, settings.random_seed)
    sizes = {
        "train": len(train),
        "test": len(test),
        "test_users": len({e.user_id for e in test}),
        "fit": len(fit),
        "validation": len(validation),
    }
    return StaticSection(results, trials, chosen, sizes, time.perf_counter() - started)
