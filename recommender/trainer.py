"""The training process: read every user's features, train, publish; once or on a schedule."""

from __future__ import annotations

import logging
import threading
import time

from ingest.settings import Settings
from recommender.artifacts import save_model
from recommender.matrix import build_user_items
from recommender.model import Model
from recommender.train import NoTrainingData, train_model
from stream.store import FeatureStore

logger = logging.getLogger(__name__)


def train_once(settings: Settings, store: FeatureStore, show_progress: bool = False) -> Model:
    """Train a model on the store's current features and publish it to settings.model_dir."""
    started = time.monotonic()
    user_items = build_user_items(store.iter_user_items())
    model = train_model(user_items, settings, show_progress=show_progress)
    path = save_model(model, settings.model_dir, settings.model_keep)
    logger.info(
        "trained model %s: %d users, %d items, %d interactions in %.2fs -> %s",
        model.version,
        len(user_items.user_ids),
        len(user_items.item_ids),
        user_items.n_interactions,
        time.monotonic() - started,
        path,
    )
    return model


def train_forever(
    settings: Settings,
    store: FeatureStore,
    interval_seconds: float,
    stop: threading.Event | None = None,
) -> None:
    """Train, wait interval_seconds, repeat until ``stop`` is set; failures keep the old model."""
    if interval_seconds <= 0:
        raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            train_once(settings, store)
        except NoTrainingData as exc:
            logger.warning("skipped training: %s", exc)
        except Exception:
            logger.exception("training failed; the previous model stays published")
        stop.wait(interval_seconds)
