"""The streaming protocol end to end: time split, the model at the cut, the replay."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from ingest.schema import WatchEvent
from ingest.settings import Settings
from recommender.evaluation.prequential import (
    FrozenVariant,
    RetrainingVariant,
    ServiceVariant,
    Variant,
    replay,
)
from recommender.evaluation.report import PrequentialSection
from recommender.evaluation.split import time_split
from recommender.evaluation.static import train_from_store
from recommender.evaluation.tuning import Candidate
from recommender.evaluation.weighting import build_store
from recommender.model import Model
from stream.store import FeatureStore

TRAIN_FRACTION = 0.5
DEFAULT_RETRAIN_EVERY = 10_000
QUICK_REPLAY_EVENTS = 10_000
QUICK_RETRAIN_EVERY = 2_500
PLOT_POINTS = 25


def variants(
    store: FeatureStore, model: Model, settings: Settings, retrain_every: int
) -> list[Variant]:
    """Return the four variants compared, all reading the same live store."""
    return [
        ServiceVariant("fold-in every event", store, model),
        FrozenVariant("static model", store, model),
        RetrainingVariant(
            f"retrain every {retrain_every:,}", store, model, settings, retrain_every
        ),
        ServiceVariant("trending only", store, None),
    ]


def _period(events: Sequence[WatchEvent]) -> str:
    first, last = (datetime.fromtimestamp(e.timestamp / 1000, UTC) for e in (events[0], events[-1]))
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"


def run_prequential(
    events: Sequence[WatchEvent],
    model_setup: tuple[Settings, str, str],
    retrain_every: int | None,
    quick: bool,
    progress: Callable[[Sequence[WatchEvent]], Iterable[WatchEvent]],
) -> PrequentialSection:
    """Train on the first half by time, replay the rest, return the section for the report."""
    settings, weighting, source = model_setup
    every = retrain_every or (QUICK_RETRAIN_EVERY if quick else DEFAULT_RETRAIN_EVERY)
    first, rest = time_split(events, lambda e: e.timestamp, TRAIN_FRACTION)
    if quick:
        rest = rest[:QUICK_REPLAY_EVENTS]
    started = time.perf_counter()
    store = build_store(first, weighting, settings.trending_half_life_seconds)
    model = train_from_store(store, settings)
    result = replay(rest, store, variants(store, model, settings, every), progress)
    params = Candidate(
        "als",
        weighting,
        settings.als_factors,
        settings.als_regularization,
        settings.als_alpha,
        settings.als_iterations,
    ).describe()
    return PrequentialSection(
        result=result,
        sizes={"train": len(first), "replayed": len(rest)},
        period={"train": _period(first), "replayed": _period(rest)},
        retrain_every=every,
        window=max(len(rest) // PLOT_POINTS, 1),
        params={**params, "trending_half_life_seconds": settings.trending_half_life_seconds},
        params_source=source,
        seconds=time.perf_counter() - started,
    )
