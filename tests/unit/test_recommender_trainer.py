"""train_once publishes a model the API can load; train_forever survives failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.schema import WatchEvent
from ingest.settings import Settings
from recommender.artifacts import DirectoryModelSource, latest_version
from recommender.train import NoTrainingData
from recommender.trainer import train_forever, train_once
from stream.features import feature_update
from stream.store import InMemoryFeatureStore


def store_with_history() -> InMemoryFeatureStore:
    store = InMemoryFeatureStore()
    updates = [
        feature_update(
            WatchEvent(
                event_id=f"e-{user}-{item}",
                user_id=f"u{user}",
                item_id=f"i{item}",
                event_type="like",
                timestamp=1_764_000_000_000,
            )
        )
        for user in range(6)
        for item in range(user % 3, user % 3 + 3)
    ]
    store.apply(updates)
    return store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(model_dir=tmp_path / "models", model_keep=2, als_factors=2, als_iterations=3)


def test_train_once_publishes_a_loadable_model(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="recommender.trainer")

    model = train_once(settings, store_with_history())

    assert latest_version(settings.model_dir) == model.version
    served = DirectoryModelSource(settings.model_dir, check_seconds=0).current()
    assert served is not None and served.version == model.version
    assert f"trained model {model.version}: 6 users, 5 items, 18 interactions" in caplog.text


def test_train_once_on_an_empty_store_raises(settings: Settings) -> None:
    with pytest.raises(NoTrainingData):
        train_once(settings, InMemoryFeatureStore())

    assert latest_version(settings.model_dir) is None


class FlakyStore(InMemoryFeatureStore):
    """Fails its first full read, then stops the loop after the second."""

    def __init__(self, source: InMemoryFeatureStore, stop: threading.Event) -> None:
        super().__init__()
        self.source = source
        self.stop = stop
        self.reads = 0

    def iter_user_items(self) -> Iterator[tuple[str, dict[str, float]]]:
        self.reads += 1
        if self.reads == 1:
            raise ConnectionError("redis is down")
        self.stop.set()
        return self.source.iter_user_items()


def test_train_forever_logs_a_failure_and_trains_again(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()
    store = FlakyStore(store_with_history(), stop)

    train_forever(settings, store, interval_seconds=0.01, stop=stop)

    assert store.reads == 2
    assert "training failed" in caplog.text and "redis is down" in caplog.text
    assert latest_version(settings.model_dir) is not None


def test_train_forever_needs_a_positive_interval(settings: Settings) -> None:
    with pytest.raises(ValueError, match="interval_seconds"):
        train_forever(settings, InMemoryFeatureStore(), interval_seconds=0)
