"""Model artifacts on disk (one directory per version plus a LATEST pointer) and model sources.

Layout::

    <model_dir>/LATEST                      text: the current version
    <model_dir>/<version>/item_ids.npy      unicode, n_items
    <model_dir>/<version>/item_factors.npy  float32, n_items x factors
    <model_dir>/<version>/metadata.json

A version directory is written under a ``.tmp-`` name and renamed into place complete, then
LATEST is replaced atomically, so a reader never sees a half-written model.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from recommender.clock import VERSION_PATTERN
from recommender.fsutil import (
    fsync_directory,
    remove_stale_entries,
    replace_file_atomically,
    write_file_durably,
)
from recommender.model import Model

logger = logging.getLogger(__name__)

LATEST_FILE = "LATEST"
ITEM_IDS_FILE = "item_ids.npy"
ITEM_FACTORS_FILE = "item_factors.npy"
METADATA_FILE = "metadata.json"
TEMP_PREFIX = ".tmp-"
# Temp entries older than this were left by a crashed trainer; younger ones may be in use.
STALE_TEMP_SECONDS = 3600.0
# What LATEST may hold: one plain directory name (never a path, never hidden).
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def save_model(model: Model, model_dir: Path, keep: int) -> Path:
    """Publish the model as ``<model_dir>/<version>/``, point LATEST at it, prune old versions."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    _check_version_name(model.version, "model version")
    model_dir.mkdir(parents=True, exist_ok=True)
    final = model_dir / model.version
    if final.exists():
        raise ValueError(f"model version {model.version} already exists in {model_dir}")
    staging = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{model.version}-", dir=model_dir))
    try:
        _write_version(model, staging)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_directory(model_dir)
    replace_file_atomically(model_dir / LATEST_FILE, f"{model.version}\n".encode(), TEMP_PREFIX)
    prune_versions(model_dir, keep, current=model.version)
    return final


def _write_version(model: Model, directory: Path) -> None:
    metadata = json.dumps(model.metadata, indent=2, sort_keys=True, allow_nan=False)
    write_file_durably(
        directory / ITEM_IDS_FILE, lambda f: np.save(f, model.item_ids, allow_pickle=False)
    )
    write_file_durably(
        directory / ITEM_FACTORS_FILE, lambda f: np.save(f, model.item_factors, allow_pickle=False)
    )
    write_file_durably(directory / METADATA_FILE, lambda f: f.write(metadata.encode("utf-8")))
    fsync_directory(directory)


def prune_versions(model_dir: Path, keep: int, current: str) -> list[str]:
    """Delete all but ``current`` and the newest others, ``keep`` in all; return deleted ones."""
    versions = sorted(
        (entry.name for entry in model_dir.iterdir() if entry.is_dir()),
        reverse=True,
    )
    others = [name for name in versions if VERSION_PATTERN.match(name) and name != current]
    removed = others[max(keep - 1, 0) :]
    for name in removed:
        shutil.rmtree(model_dir / name, ignore_errors=True)
    remove_stale_entries(model_dir, TEMP_PREFIX, STALE_TEMP_SECONDS, time.time())
    return removed


def latest_version(model_dir: Path) -> str | None:
    """Return the version LATEST points at, or None if no model has been published."""
    try:
        text = (model_dir / LATEST_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    _check_version_name(text, f"{model_dir / LATEST_FILE} content")
    return text


def load_model(path: Path) -> Model:
    """Load one version directory (no pickle); raise ValueError if its files disagree."""
    metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    if not isinstance(metadata, dict):
        raise ValueError(f"{path / METADATA_FILE} must hold a JSON object")
    item_ids = np.load(path / ITEM_IDS_FILE, allow_pickle=False)
    item_factors = np.load(path / ITEM_FACTORS_FILE, allow_pickle=False)
    problems = _inconsistencies(path, metadata, item_ids, item_factors)
    if problems:
        raise ValueError(f"model at {path} is inconsistent: {'; '.join(problems)}")
    try:
        return Model(path.name, item_ids, item_factors, metadata)
    except ValueError as exc:
        raise ValueError(f"model at {path} is invalid: {exc}") from None


def load_latest(model_dir: Path) -> Model | None:
    """Load the version LATEST points at, or return None if none has been published."""
    version = latest_version(model_dir)
    return None if version is None else load_model(model_dir / version)


def _inconsistencies(
    path: Path, metadata: dict[str, Any], item_ids: np.ndarray, item_factors: np.ndarray
) -> list[str]:
    problems = []
    if metadata.get("version") != path.name:
        problems.append(f"metadata version {metadata.get('version')!r} != directory {path.name!r}")
    if item_ids.ndim != 1:
        problems.append(f"{ITEM_IDS_FILE} has shape {item_ids.shape}, expected 1-D")
    if item_factors.ndim != 2:
        problems.append(f"{ITEM_FACTORS_FILE} has shape {item_factors.shape}, expected 2-D")
    elif item_ids.ndim == 1 and item_factors.shape[0] != item_ids.shape[0]:
        problems.append(
            f"{ITEM_FACTORS_FILE} has {item_factors.shape[0]} rows, "
            f"{ITEM_IDS_FILE} has {item_ids.shape[0]} ids"
        )
    if item_ids.ndim == 1 and metadata.get("n_items") != item_ids.shape[0]:
        problems.append(f"metadata n_items {metadata.get('n_items')!r} != {item_ids.shape[0]}")
    params = metadata.get("params")
    factors = params.get("factors") if isinstance(params, dict) else None
    columns = factors + 1 if isinstance(factors, int) and metadata.get("item_bias") else factors
    if item_factors.ndim == 2 and columns != item_factors.shape[1]:
        problems.append(
            f"metadata params.factors {factors!r} (item_bias {bool(metadata.get('item_bias'))}) "
            f"!= {item_factors.shape[1]} columns"
        )
    return problems


def _check_version_name(name: str, what: str) -> None:
    if not _VERSION_NAME.match(name):
        raise ValueError(f"{what} {name!r} is not a valid version name")


class ModelSource(ABC):
    """Where the API gets the model to serve."""

    @abstractmethod
    def current(self) -> Model | None:
        """Return the model to serve now, or None if no model has been published."""


class StaticModelSource(ModelSource):
    """Always serves the model it was given (tests, offline evaluation)."""

    def __init__(self, model: Model | None) -> None:
        self.model = model

    def current(self) -> Model | None:
        """Return the model given at construction."""
        return self.model


class DirectoryModelSource(ModelSource):
    """Serves the version LATEST points at, re-reading LATEST at most every check_seconds.

    A version that fails to load is logged and skipped (the previous model keeps serving) until
    LATEST names another one. Only the first load blocks request threads.
    """

    def __init__(
        self,
        model_dir: Path,
        check_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model_dir = model_dir
        self.check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._model: Model | None = None
        self._checked_at: float | None = None
        self._failed_version: str | None = None

    def current(self) -> Model | None:
        """Return the newest loadable published model, or None if there is none yet."""
        if not self._due():
            return self._model
        if not self._lock.acquire(blocking=self._model is None):
            return self._model  # another thread is refreshing; serve the model we have
        try:
            if self._due():
                self._refresh()
        finally:
            self._lock.release()
        return self._model

    def _due(self) -> bool:
        checked_at = self._checked_at
        return checked_at is None or self._clock() - checked_at >= self.check_seconds

    def _refresh(self) -> None:
        self._checked_at = self._clock()
        try:
            version = latest_version(self.model_dir)
        except (OSError, ValueError) as exc:
            logger.error("cannot read %s/%s: %s", self.model_dir, LATEST_FILE, exc)
            return
        serving = self._model.version if self._model else None
        if version is None or version in (serving, self._failed_version):
            return
        try:
            model = load_model(self.model_dir / version)
        except Exception:
            logger.exception("cannot load model %s; still serving %s", version, serving)
            self._failed_version = version
            return
        self._model = model
        logger.info("serving model %s (was %s)", version, serving)
