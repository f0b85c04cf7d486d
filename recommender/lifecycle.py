"""The model lifecycle: gated retraining under a lock, triggers, rollback and the admin facade.

A retrain trains a candidate without a held-out part of each user's items and measures
recall@10 on it; it is compared with the recall recorded when the served model was trained the
same way (not the served model scored on today's held-out items: it was trained on them). Only a
candidate at least as good (within ``holdout_tolerance``) is retrained on all data and
published; otherwise nothing changes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from redis.exceptions import LockError

from ingest.errors import Conflict, NotFound
from ingest.settings import Settings
from recommender.artifacts import (
    LATEST_FILE,
    TEMP_PREFIX,
    latest_version,
    load_latest,
    save_model,
)
from recommender.clock import VERSION_PATTERN
from recommender.fsutil import replace_file_atomically
from recommender.holdout import Holdout, recall_at_k, split_holdout
from recommender.matrix import build_user_items
from recommender.model import Model
from recommender.train import NoTrainingData, train_model
from stream.redis_store import connect_redis
from stream.store import FeatureStore

logger = logging.getLogger(__name__)


class Lock(Protocol):
    """What the lifecycle needs of a lock: redis-py's ``Lock`` and ``threading.Lock`` fit."""

    def acquire(self, blocking: bool = ...) -> bool: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class RetrainResult:
    """What one retrain did: ``published``, ``rejected`` or ``skipped`` (no data)."""

    status: str
    model_version: str | None
    metrics: dict[str, Any] = field(default_factory=dict)


def redis_training_lock(settings: Settings) -> Lock:
    """The one-trainer-at-a-time lock: a Redis key with an expiry (a crashed trainer frees it)."""
    client = connect_redis(settings.redis_url, settings.redis_timeout_seconds)
    # thread_local=False: the API acquires in a request thread and releases in the trainer one.
    return client.lock(
        f"{settings.key_prefix}:train-lock",
        timeout=settings.train_lock_ttl_seconds,
        thread_local=False,
    )


def retrain(
    settings: Settings, store: FeatureStore, force: bool = False, show_progress: bool = False
) -> RetrainResult:
    """Train a candidate, check it against the served model, publish it only if not worse."""
    started = time.monotonic()
    applied = store.stats()["applied"]
    rows = dict(store.iter_user_items())
    holdout = split_holdout(rows, settings.holdout_fraction, settings.random_seed)
    try:
        candidate = train_model(holdout.train, settings, show_progress=show_progress)
    except NoTrainingData as exc:
        logger.warning("skipped training: %s", exc)
        return RetrainResult("skipped", None)
    incumbent = load_latest(settings.model_dir)
    candidate_recall = recall_at_k(candidate, holdout)
    incumbent_recall, source = incumbent_holdout_recall(incumbent, holdout)
    metrics = {
        "holdout_recall_at_10": round(candidate_recall, 6),
        "incumbent_recall_at_10": None if incumbent_recall is None else round(incumbent_recall, 6),
        "incumbent_recall_source": source,
        "holdout_users": len(holdout.held_out),
    }
    worse = (
        incumbent_recall is not None
        # At the precision recalls are recorded with: a retrain on unchanged data ties, not loses.
        and round(candidate_recall, 6) < round(incumbent_recall, 6) - settings.holdout_tolerance
    )
    if incumbent is not None and worse and not force:
        logger.warning("rejected candidate: %s; keeping model %s", metrics, incumbent.version)
        return RetrainResult("rejected", incumbent.version, metrics)
    extra = {"metrics": metrics, "events_applied": applied}
    model = train_model(build_user_items(rows.items()), settings, extra_metadata=extra)
    save_model(model, settings.model_dir, settings.model_keep)
    logger.info(
        "published model %s in %.2fs: %s", model.version, time.monotonic() - started, metrics
    )
    return RetrainResult("published", model.version, metrics)


def incumbent_holdout_recall(
    incumbent: Model | None, holdout: Holdout
) -> tuple[float | None, str | None]:
    """The served model's held-out recall, measured the way the candidate's is.

    The served model was trained on all the data, the items held out now included, so scoring
    it on this holdout would flatter it and reject every retrain on unchanged data. The recall
    recorded when it was trained (its own candidate, without its holdout) is the fair figure;
    models published before it was recorded are scored on this holdout ("rescored").
    """
    if incumbent is None:
        return None, None
    recorded = incumbent.metadata.get("metrics", {}).get("holdout_recall_at_10")
    if isinstance(recorded, int | float):
        return float(recorded), "recorded"
    return recall_at_k(incumbent, holdout), "rescored"


def retrain_locked(
    settings: Settings,
    store: FeatureStore,
    lock: Lock,
    force: bool = False,
    show_progress: bool = False,
) -> RetrainResult:
    """Retrain while holding ``lock``; raise Conflict if another trainer holds it."""
    if not lock.acquire(blocking=False):
        raise Conflict("a training is already running")
    try:
        return retrain(settings, store, force=force, show_progress=show_progress)
    finally:
        _release(lock)


def _release(lock: Lock) -> None:
    # A lock that expired during the training is no reason to fail what the training did.
    try:
        lock.release()
    except LockError:
        logger.warning(
            "the training lock expired before the training ended; another trainer may have run "
            "meanwhile: raise STREAMREC_TRAIN_LOCK_TTL_SECONDS above the longest training"
        )


def retrain_due(settings: Settings, store: FeatureStore, last_run: float, now: float) -> bool:
    """Decide whether the periodic trainer should retrain now (interval and/or new events)."""
    if settings.train_interval_seconds > 0 and now - last_run >= settings.train_interval_seconds:
        return True
    if settings.retrain_after_events > 0:
        current = load_latest(settings.model_dir)
        trained_on = int(current.metadata.get("events_applied", 0)) if current else 0
        return store.stats()["applied"] - trained_on >= settings.retrain_after_events
    return False


def previous_version(model_dir: Path, current: str) -> str | None:
    """Return the newest published version older than ``current``, if any is kept."""
    older = sorted(
        entry.name
        for entry in model_dir.iterdir()
        if entry.is_dir() and VERSION_PATTERN.match(entry.name) and entry.name < current
    )
    return older[-1] if older else None


def rollback(model_dir: Path) -> dict[str, str]:
    """Point LATEST at the version before the current one; NotFound if there is none."""
    current = latest_version(model_dir)
    previous = previous_version(model_dir, current) if current else None
    if current is None or previous is None:
        raise NotFound("there is no older model version to roll back to", {"current": current})
    replace_file_atomically(model_dir / LATEST_FILE, f"{previous}\n".encode(), TEMP_PREFIX)
    logger.warning("rolled back from model %s to %s", current, previous)
    return {"model_version": previous, "previous": current}
