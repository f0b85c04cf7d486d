"""The training process: keep retraining on an interval and/or after N events.

One retrain is ``recommender.lifecycle.retrain_locked``.
"""

from __future__ import annotations

import logging
import threading
import time

from ingest.errors import Conflict
from ingest.settings import Settings
from recommender.lifecycle import Lock, retrain_due, retrain_locked
from stream.store import FeatureStore

logger = logging.getLogger(__name__)

POLL_SECONDS = 5.0


def train_forever(
    settings: Settings,
    store: FeatureStore,
    lock: Lock,
    stop: threading.Event | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Retrain whenever due (settings.train_interval_seconds / retrain_after_events) until stop."""
    if settings.train_interval_seconds <= 0 and settings.retrain_after_events <= 0:
        raise ValueError("set train_interval_seconds and/or retrain_after_events above 0")
    stop = stop or threading.Event()
    last_run = float("-inf")
    while not stop.is_set():
        now = time.monotonic()
        if retrain_due(settings, store, last_run, now):
            last_run = now
            try:
                retrain_locked(settings, store, lock)
            except Conflict:
                logger.info("another trainer holds the lock; skipping this round")
            except Exception:
                logger.exception("training failed; the previous model stays published")
        stop.wait(poll_seconds)
