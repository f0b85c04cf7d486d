"""What the API's admin endpoints and ``GET /v1/model`` call: describe, retrain, roll back."""

from __future__ import annotations

import logging
import threading
from typing import Any

from ingest.errors import Conflict
from ingest.settings import Settings
from recommender.artifacts import ModelSource
from recommender.lifecycle import Lock, retrain, rollback
from stream.store import FeatureStore

logger = logging.getLogger(__name__)


class ModelAdmin:
    """One per API process: at most one retrain thread here, and one anywhere via the lock."""

    def __init__(
        self, settings: Settings, store: FeatureStore, models: ModelSource, lock: Lock
    ) -> None:
        self.settings = settings
        self.store = store
        self.models = models
        self.lock = lock
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def describe(self) -> dict[str, Any] | None:
        """Describe the model being served (its metadata without the popular list), or None."""
        model = self.models.current()
        if model is None:
            return None
        described = {k: v for k, v in model.metadata.items() if k != "popular_items"}
        return {**described, "version": model.version}

    def start_retrain(self) -> dict[str, str]:
        """Start a retrain in a background thread; Conflict if one is running anywhere."""
        with self._guard:
            if self._thread is not None and self._thread.is_alive():
                raise Conflict("a training is already running in this process")
            if not self.lock.acquire(blocking=False):
                raise Conflict("a training is already running")
            self._thread = threading.Thread(target=self._retrain, name="retrain", daemon=True)
            self._thread.start()
        return {"status": "started"}

    def _retrain(self) -> None:
        try:
            result = retrain(self.settings, self.store)
            logger.info(
                "admin retrain: %s %s %s", result.status, result.model_version, result.metrics
            )
        except Exception:
            logger.exception("admin retrain failed; the served model stays")
        finally:
            self.lock.release()

    def rollback(self) -> dict[str, str]:
        """Serve the version before the current one (all API processes follow LATEST)."""
        return rollback(self.settings.model_dir)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running retrain (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)
