"""The model lifecycle: gated retraining under a lock, triggers, rollback, the admin facade."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from redis.exceptions import LockNotOwnedError

from ingest.errors import Conflict, NotFound
from ingest.schema import WatchEvent
from ingest.settings import Settings
from recommender.admin import ModelAdmin
from recommender.artifacts import DirectoryModelSource, latest_version, load_latest
from recommender.holdout import recall_at_k, split_holdout
from recommender.lifecycle import retrain, retrain_due, retrain_locked, rollback
from recommender.trainer import train_forever
from stream.features import feature_update
from stream.store import InMemoryFeatureStore


def clustered_store(users: int = 40) -> InMemoryFeatureStore:
    """Users of taste t (user % 4) watch six of the eight items i<t>-*."""
    store = InMemoryFeatureStore()
    updates = []
    for user in range(users):
        taste = user % 4
        for n in range(6):
            item = f"i{taste}-{(user + n) % 8}"
            updates.append(
                feature_update(
                    WatchEvent(
                        event_id=f"e-{user}-{n}",
                        user_id=f"u{user}",
                        item_id=item,
                        event_type="like",
                        timestamp=1_764_000_000_000 + n,
                    )
                )
            )
    store.apply(updates)
    return store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        model_dir=tmp_path / "models",
        model_keep=3,
        als_factors=4,
        als_iterations=10,
        als_regularization=0.1,
        holdout_fraction=0.2,
    )


def test_first_training_publishes_with_metrics(settings: Settings) -> None:
    result = retrain_locked(settings, clustered_store(), threading.Lock())

    assert result.status == "published"
    model = load_latest(settings.model_dir)
    assert model is not None and model.version == result.model_version
    assert model.metadata["metrics"]["incumbent_recall_at_10"] is None
    assert 0 < model.metadata["metrics"]["holdout_recall_at_10"] <= 1
    assert model.metadata["events_applied"] == 240


def test_a_worse_candidate_never_replaces_the_served_model(settings: Settings) -> None:
    good = retrain(settings, clustered_store())
    # Regularization this strong shrinks every factor to ~0: the ranking is no better than chance.
    worse_settings = settings.model_copy(update={"als_factors": 1, "als_regularization": 1e6})

    result = retrain(worse_settings, clustered_store())

    assert result.status == "rejected"
    assert latest_version(settings.model_dir) == good.model_version
    assert result.metrics["holdout_recall_at_10"] < result.metrics["incumbent_recall_at_10"]
    forced = retrain(worse_settings, clustered_store(), force=True)
    assert (
        forced.status == "published" and latest_version(settings.model_dir) == forced.model_version
    )


def test_retraining_on_unchanged_data_publishes_again(settings: Settings) -> None:
    # The served model was trained on all the data, held-out items included: scored on them it
    # would beat any candidate trained without them. The gate compares recorded recalls.
    first = retrain(settings, clustered_store())

    second = retrain(settings, clustered_store())

    assert second.status == "published" and second.model_version != first.model_version
    assert second.metrics["incumbent_recall_source"] == "recorded"
    assert second.metrics["incumbent_recall_at_10"] == first.metrics["holdout_recall_at_10"]


def random_store(users: int = 60, items: int = 120, per_user: int = 12) -> InMemoryFeatureStore:
    """Users who like random items: nothing a model can learn, everything it can memorise."""
    rng = random.Random(5)
    store = InMemoryFeatureStore()
    store.apply(
        [
            feature_update(
                WatchEvent(
                    event_id=f"e-{user}-{n}",
                    user_id=f"u{user}",
                    item_id=f"i{item}",
                    event_type="like",
                    timestamp=1_764_000_000_000 + n,
                )
            )
            for user in range(users)
            for n, item in enumerate(rng.sample(range(items), per_user))
        ]
    )
    return store


def test_the_served_model_is_not_judged_on_items_it_was_trained_on(settings: Settings) -> None:
    memorising = settings.model_copy(
        update={"als_factors": 32, "als_iterations": 15, "als_regularization": 0.01}
    )
    retrain(memorising, random_store())
    rows = dict(random_store().iter_user_items())
    holdout = split_holdout(rows, memorising.holdout_fraction, memorising.random_seed)
    served = load_latest(memorising.model_dir)
    assert served is not None

    again = retrain(memorising, random_store())

    # Scored on the held-out items it was trained on, the served model would win every time.
    assert recall_at_k(served, holdout) > 2 * again.metrics["holdout_recall_at_10"]
    assert again.status == "published"


def test_an_empty_store_is_skipped(settings: Settings) -> None:
    assert retrain(settings, InMemoryFeatureStore()).status == "skipped"
    assert latest_version(settings.model_dir) is None


def test_only_one_trainer_at_a_time(settings: Settings) -> None:
    lock = threading.Lock()
    lock.acquire()
    with pytest.raises(Conflict, match="already running"):
        retrain_locked(settings, clustered_store(), lock)


class ExpiringLock:
    """A lock whose expiry passed during the training (as a redis-py lock reports it)."""

    def acquire(self, blocking: bool = True) -> bool:
        return True

    def release(self) -> None:
        raise LockNotOwnedError("Cannot release a lock that's no longer owned")


def test_a_lock_that_expired_during_training_does_not_fail_the_published_model(
    settings: Settings,
) -> None:
    result = retrain_locked(settings, clustered_store(), ExpiringLock())

    assert result.status == "published"
    assert latest_version(settings.model_dir) == result.model_version


def test_rollback_serves_the_previous_version(settings: Settings) -> None:
    with pytest.raises(NotFound):
        rollback(settings.model_dir)
    first = retrain(settings, clustered_store()).model_version
    second = retrain(settings, clustered_store(), force=True).model_version
    source = DirectoryModelSource(settings.model_dir, check_seconds=0)
    assert source.current().version == second  # type: ignore[union-attr]

    assert rollback(settings.model_dir) == {"model_version": first, "previous": second}
    assert source.current().version == first  # type: ignore[union-attr]
    with pytest.raises(NotFound, match="no older model"):
        rollback(settings.model_dir)


def test_retrain_is_due_by_interval_or_new_events(settings: Settings) -> None:
    store = clustered_store()
    assert not retrain_due(settings, store, last_run=0.0, now=1e9)
    by_time = settings.model_copy(update={"train_interval_seconds": 60})
    assert retrain_due(by_time, store, last_run=0.0, now=61.0)
    assert not retrain_due(by_time, store, last_run=0.0, now=59.0)
    by_events = settings.model_copy(update={"retrain_after_events": 100})
    assert retrain_due(by_events, store, last_run=0.0, now=0.0)  # no model yet: 240 new events
    retrain(by_events, store)
    assert not retrain_due(by_events, store, last_run=0.0, now=0.0)
    store.apply(
        [
            feature_update(
                WatchEvent(
                    event_id=f"n{n}", user_id="u1", item_id="i1-1", event_type="view", timestamp=n
                )
            )
            for n in range(100)
        ]
    )
    assert retrain_due(by_events, store, last_run=0.0, now=0.0)


def test_train_forever_retrains_when_due_and_survives_failures(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()
    every = settings.model_copy(update={"train_interval_seconds": 0.01})
    calls: list[int] = []

    class FlakyStore(InMemoryFeatureStore):
        def iter_user_items(self):  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("redis blew up")
            stop.set()
            return clustered_store().iter_user_items()

    safety = threading.Timer(20, stop.set)  # never hang the suite if the loop misbehaves
    safety.start()
    train_forever(every, FlakyStore(), threading.Lock(), stop=stop, poll_seconds=0.01)
    safety.cancel()

    assert len(calls) == 2 and latest_version(settings.model_dir) is not None
    assert "training failed" in caplog.text
    with pytest.raises(ValueError, match="above 0"):
        train_forever(settings, InMemoryFeatureStore(), threading.Lock())


def test_admin_describes_retrains_in_the_background_and_rolls_back(settings: Settings) -> None:
    store = clustered_store()
    models = DirectoryModelSource(settings.model_dir, check_seconds=0)
    lock = threading.Lock()
    admin = ModelAdmin(settings, store, models, lock)
    assert admin.describe() is None

    assert admin.start_retrain() == {"status": "started"}
    admin.wait(30)
    described = admin.describe()
    assert described is not None and "popular_items" not in described
    assert described["algorithm"] == "als" and described["n_users"] == 40
    assert not lock.locked()

    lock.acquire()
    with pytest.raises(Conflict):
        admin.start_retrain()
    lock.release()
    with pytest.raises(NotFound):
        admin.rollback()
