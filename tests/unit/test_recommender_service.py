"""RecommendationService: personalised from the latest features, popular otherwise."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ingest.errors import InvalidRequest, ModelNotReady, NotFound
from ingest.schema import EventType, WatchEvent
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.matrix import build_user_items
from recommender.model import Model
from recommender.service import RecommendationService
from recommender.train import train_model
from stream.features import feature_update
from stream.store import InMemoryFeatureStore

A_ITEMS = [f"a{i}" for i in range(6)]
B_ITEMS = [f"b{i}" for i in range(6)]
SETTINGS = Settings(als_factors=2, als_regularization=0.5, als_iterations=15, random_seed=7)
NOW = datetime(2026, 11, 25, 19, 1, 2, 123456, tzinfo=UTC)


def watch(
    store: InMemoryFeatureStore, user_id: str, item_id: str, event_type: EventType = "watch"
) -> None:
    """Apply one event to the store the way the stream worker does."""
    event = WatchEvent(
        event_id=f"{user_id}-{item_id}-{event_type}",
        user_id=user_id,
        item_id=item_id,
        event_type=event_type,
        timestamp=1_764_000_000_000,
        watch_seconds=90,
        duration_seconds=100,
    )
    store.apply([feature_update(event)])


def two_taste_store() -> InMemoryFeatureStore:
    """Users a-0..a-7 watch 4 of the a items each, b-0..b-7 4 of the b items; b0 is most liked."""
    store = InMemoryFeatureStore()
    for user in range(8):
        for offset in range(4):
            watch(store, f"a-{user}", A_ITEMS[(user + offset) % 6])
            watch(store, f"b-{user}", B_ITEMS[(user + offset) % 6])
        watch(store, f"b-{user}", "b0", "like")
    return store


@pytest.fixture(scope="module")
def model() -> Model:
    return train_model(build_user_items(two_taste_store().iter_user_items()), SETTINGS)


@pytest.fixture
def store() -> InMemoryFeatureStore:
    return two_taste_store()


@pytest.fixture
def service(store: InMemoryFeatureStore, model: Model) -> RecommendationService:
    return RecommendationService(store, StaticModelSource(model), clock=lambda: NOW)


def ids(items: list[tuple[str, float]]) -> list[str]:
    return [item_id for item_id, _ in items]


def test_new_user_gets_popular_items(service: RecommendationService, model: Model) -> None:
    answer = service.recommend("nobody", 3)

    assert answer.source == "popular"
    assert ids(answer.items)[0] == "b0"
    assert len(answer.items) == 3
    assert answer.model_version == model.version
    assert answer.generated_at == "2026-11-25T19:01:02.123Z"


def test_user_with_history_gets_personal_unseen_items(
    service: RecommendationService, store: InMemoryFeatureStore
) -> None:
    for item_id in ["a0", "a1", "a2"]:
        watch(store, "alice", item_id)
    watch(store, "alice", "a3", "skip")  # seen without a positive signal: still never shown

    answer = service.recommend("alice", 2)

    assert answer.source == "model"
    assert set(ids(answer.items)) == {"a4", "a5"}


def test_a_new_event_changes_the_next_answer_without_retraining(
    service: RecommendationService, store: InMemoryFeatureStore
) -> None:
    assert service.recommend("carol", 3).source == "popular"

    watch(store, "carol", "a0")
    watch(store, "carol", "a1")
    answer = service.recommend("carol", 3)

    assert answer.source == "model"
    assert all(item_id.startswith("a") for item_id in ids(answer.items))
    assert not {"a0", "a1"} & set(ids(answer.items))


def test_too_few_model_items_are_filled_from_popular(
    service: RecommendationService, store: InMemoryFeatureStore
) -> None:
    watch(store, "dave", "a0")
    watch(store, "fan", "brand-new")  # popular in the store, unknown to the model

    answer = service.recommend("dave", 50)

    assert answer.source == "model"
    assert sorted(ids(answer.items)) == sorted({*A_ITEMS, *B_ITEMS, "brand-new"} - {"a0"})


def test_without_a_model_popular_items_come_from_the_store(store: InMemoryFeatureStore) -> None:
    watch(store, "erin", "b0")
    service = RecommendationService(store, StaticModelSource(None))

    answer = service.recommend("erin", 2)

    assert answer.source == "popular" and answer.model_version is None
    assert len(answer.items) == 2 and "b0" not in ids(answer.items)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", answer.generated_at)


def test_empty_store_falls_back_to_the_models_popular_items(model: Model) -> None:
    service = RecommendationService(InMemoryFeatureStore(), StaticModelSource(model))

    answer = service.recommend("nobody", 2)

    assert answer.items == model.popular_items(2)


def test_similar_items_come_from_the_model(service: RecommendationService) -> None:
    answer = service.similar_items("b2", 3)

    assert answer.source == "model"
    assert all(item_id.startswith("b") and item_id != "b2" for item_id in ids(answer.items))


def test_similar_items_of_an_unknown_item_is_not_found(service: RecommendationService) -> None:
    with pytest.raises(NotFound, match="zzz"):
        service.similar_items("zzz", 3)


def test_similar_items_without_a_model_is_not_ready(store: InMemoryFeatureStore) -> None:
    service = RecommendationService(store, StaticModelSource(None))

    with pytest.raises(ModelNotReady):
        service.similar_items("a0", 3)


@pytest.mark.parametrize("k", [0, -1])
def test_k_must_be_positive(service: RecommendationService, k: int) -> None:
    with pytest.raises(InvalidRequest, match="k must be a positive integer"):
        service.recommend("alice", k)
