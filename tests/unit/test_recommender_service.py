"""RecommendationService: personalised from the latest features, popular otherwise."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.errors import InvalidRequest, ModelNotReady, NotFound
from ingest.schema import EventType, WatchEvent
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.catalogue import Catalogue
from recommender.clock import format_rfc3339
from recommender.matrix import build_user_items
from recommender.model import Model
from recommender.service import Filters, RecommendationService, ScoredItem
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


class TrendingStore(InMemoryFeatureStore):
    """The in-memory store with trending scripted by the test (decay is the store's own test)."""

    def __init__(self) -> None:
        super().__init__()
        self.trending: list[tuple[str, float]] | None = None

    def trending_items(self, k: int) -> list[tuple[str, float]]:
        """Return the scripted trending list, or popularity when none is scripted."""
        return (self.trending if self.trending is not None else self.popular_items(k))[:k]


def two_taste_store() -> TrendingStore:
    """Users a-0..a-7 watch 4 of the a items each, b-0..b-7 4 of the b items; b0 is most liked."""
    store = TrendingStore()
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
def store() -> TrendingStore:
    return two_taste_store()


@pytest.fixture
def service(store: InMemoryFeatureStore, model: Model) -> RecommendationService:
    return RecommendationService(store, StaticModelSource(model), clock=lambda: NOW)


def ids(items: list[ScoredItem]) -> list[str]:
    return [item.item_id for item in items]


def test_new_user_gets_trending_items(service: RecommendationService, model: Model) -> None:
    answer = service.recommend("nobody", 3)

    assert answer.source == "trending"
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
    assert service.recommend("carol", 3).source == "trending"

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


def test_without_a_model_popular_items_come_from_the_store(store: TrendingStore) -> None:
    watch(store, "erin", "b0")
    service = RecommendationService(store, StaticModelSource(None))

    answer = service.recommend("erin", 2)

    assert answer.source == "trending" and answer.model_version is None
    assert len(answer.items) == 2 and "b0" not in ids(answer.items)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", answer.generated_at)


def test_empty_store_falls_back_to_the_models_popular_items(model: Model) -> None:
    service = RecommendationService(TrendingStore(), StaticModelSource(model))

    answer = service.recommend("nobody", 2)

    assert [(item.item_id, item.score) for item in answer.items] == model.popular_items(2)


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


def test_because_names_the_history_items_behind_each_pick(
    service: RecommendationService, store: TrendingStore
) -> None:
    for item_id in ["a0", "a1", "a2"]:
        watch(store, "gina", item_id)

    answer = service.recommend("gina", 3)

    assert answer.items and all(item.because for item in answer.items)
    assert all(set(item.because) <= {"a0", "a1", "a2"} for item in answer.items)


def test_explanations_add_up_to_the_score(model: Model) -> None:
    user_items = {"a0": 2.0, "a1": 3.0, "b5": 1.0}
    vector = model.user_vector(user_items)
    assert vector is not None
    ranked = model.recommend(user_items, 4, exclude=set(user_items))
    for item_id, score in ranked:
        assert float(model.item_factors[model.item_index[item_id]] @ vector) == pytest.approx(score)
    assert set(model.explain(user_items, [i for i, _ in ranked])) == {i for i, _ in ranked}


def test_exclude_and_include_seen(service: RecommendationService, store: TrendingStore) -> None:
    for item_id in ["a0", "a1"]:
        watch(store, "hal", item_id)

    plain = ids(service.recommend("hal", 12).items)
    excluded = ids(service.recommend("hal", 12, Filters(exclude=frozenset({"a2"}))).items)
    with_seen = ids(service.recommend("hal", 12, Filters(include_seen=True)).items)

    assert "a2" in plain and "a2" not in excluded
    assert not {"a0", "a1"} & set(plain)
    assert {"a0", "a1"} <= set(with_seen)


def test_dislike_and_skip_remove_an_item_even_with_include_seen(
    service: RecommendationService, store: TrendingStore
) -> None:
    for item_id in ["a0", "a1", "a2"]:
        watch(store, "ivy", item_id)
    store.apply(
        [
            feature_update(
                WatchEvent(
                    event_id="ivy-dislike",
                    user_id="ivy",
                    item_id="a0",
                    event_type="dislike",
                    timestamp=1_764_000_000_001,
                )
            )
        ]
    )

    answer = service.recommend("ivy", 12, Filters(include_seen=True))

    if store.user_items("ivy")["a0"] < 0:  # the stream's dislike semantics are in place
        assert "a0" not in ids(answer.items)
    assert {"a1", "a2"} <= set(ids(answer.items))


def test_category_filter_uses_the_catalogue(store: TrendingStore, model: Model) -> None:
    catalogue = Catalogue(
        titles={},
        categories={
            item: frozenset({"Drama" if item in ("a4", "b3") else "Comedy"})
            for item in A_ITEMS + B_ITEMS
        },
    )
    service = RecommendationService(store, StaticModelSource(model), catalogue=catalogue)
    watch(store, "jo", "a0")

    answer = service.recommend("jo", 5, Filters(category="drama"))

    assert ids(answer.items)[0] == "a4" and set(ids(answer.items)) == {"a4", "b3"}
    assert set(ids(service.trending(5, Filters(category="DRAMA")).items)) == {"a4", "b3"}
    assert service.categories() == ["Comedy", "Drama"]
    with pytest.raises(InvalidRequest, match="unknown category 'Horror'") as info:
        service.recommend("jo", 5, Filters(category="Horror"))
    assert info.value.details[0]["field"] == "category"


def test_trending_lists_the_store_trending_then_popular(
    service: RecommendationService, store: TrendingStore
) -> None:
    store.trending = [("b4", 9.0), ("a5", 8.0)]

    answer = service.trending(4, Filters(exclude=frozenset({"a5"})))

    assert answer.source == "trending"
    assert ids(answer.items)[:1] == ["b4"] and "a5" not in ids(answer.items)
    assert len(answer.items) == 4


def test_an_item_newer_than_the_model_reaches_users_through_trending(
    service: RecommendationService, store: TrendingStore
) -> None:
    for item_id in ["a0", "a1"]:
        watch(store, "kim", item_id)
    store.trending = [("b0", 10.0), ("fresh-item", 5.0)]

    items = ids(service.recommend("kim", 5).items)

    assert items[-1] == "fresh-item" and len(items) == 5
    assert "fresh-item" not in ids(service.recommend("kim", 4).items)


def test_new_items_follow_the_cached_trending_list_and_the_model_served(
    store: TrendingStore, model: Model
) -> None:
    for item_id in ["a0", "a1"]:
        watch(store, "kim", item_id)
    store.trending = [("b0", 10.0), ("fresh-item", 5.0)]
    source = StaticModelSource(model)
    service = RecommendationService(store, source, trending_cache_seconds=60)
    assert ids(service.recommend("kim", 5).items)[-1] == "fresh-item"
    assert ids(service.recommend("kim", 5).items)[-1] == "fresh-item"  # from the cache

    # A retrain that learned the item: it now competes on its score, no slot is kept for it.
    store.trending = None
    watch(store, "b-0", "fresh-item")
    retrained = train_model(build_user_items(store.iter_user_items()), SETTINGS)
    store.trending = [("b0", 10.0), ("fresh-item", 5.0)]
    source.model = retrained
    answer = service.recommend("kim", 5)
    assert answer.model_version == retrained.version
    expected = [i for i, _ in retrained.recommend(store.user_items("kim"), 5, {"a0", "a1"})]
    assert ids(answer.items) == expected


def test_history_is_newest_first(service: RecommendationService, store: TrendingStore) -> None:
    watch(store, "lee", "a0")
    assert [entry["item_id"] for entry in service.history("lee", 10)] == ["a0"]
    with pytest.raises(InvalidRequest, match="limit"):
        service.history("lee", 0)


def test_bpr_model_serves_through_the_same_path(store: TrendingStore, tmp_path) -> None:
    from recommender.artifacts import load_model, save_model

    settings = Settings(algorithm="bpr", bpr_factors=4, bpr_iterations=300, random_seed=3)
    bpr = train_model(build_user_items(store.iter_user_items()), settings)
    assert bpr.metadata["algorithm"] == "bpr" and bpr.item_factors.shape[1] == 5
    reloaded = load_model(save_model(bpr, tmp_path, keep=2))
    service = RecommendationService(store, StaticModelSource(reloaded))
    for item_id in ["b0", "b1", "b2"]:
        watch(store, "max", item_id)

    answer = service.recommend("max", 3)

    assert answer.source == "model"
    assert sum(item.item_id.startswith("b") for item in answer.items) >= 2


def test_trending_cache_reads_the_store_once_per_period(store: TrendingStore, model: Model) -> None:
    reads: list[int] = []
    original = store.trending_items

    def counting(k: int) -> list[tuple[str, float]]:
        reads.append(k)
        return original(k)

    store.trending_items = counting  # type: ignore[method-assign]
    cached = RecommendationService(store, StaticModelSource(model), trending_cache_seconds=60)
    uncached = RecommendationService(store, StaticModelSource(model))

    first = cached.trending(3)
    assert [ids(cached.trending(3).items) for _ in range(3)] == [ids(first.items)] * 3
    assert len(reads) == 1
    uncached.trending(3)
    uncached.trending(3)
    assert len(reads) == 3


def test_recommend_explained_matches_recommend_and_explain(model: Model) -> None:
    user_items = {"a0": 2.0, "a1": 3.0, "b5": 1.0, "b4": -1.0}
    ranked = model.recommend(user_items, 5, exclude=set(user_items))
    reasons = model.explain(user_items, [item_id for item_id, _ in ranked])

    together = model.recommend_explained(user_items, 5, exclude=set(user_items))

    assert [item_id for item_id, _, _ in together] == [item_id for item_id, _ in ranked]
    for (item_id, score, because), (_, expected) in zip(together, ranked, strict=True):
        assert score == pytest.approx(expected, rel=1e-4)
        assert because == reasons[item_id]


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 25, 19, 1, 2, 123456, tzinfo=UTC), "2026-11-25T19:01:02.123Z"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05.000Z"),
        (datetime(2026, 1, 1, 0, 30, 0, 999999, tzinfo=timezone(timedelta(hours=1))),
         "2025-12-31T23:30:00.999Z"),
    ],
)  # fmt: skip
def test_times_are_rfc3339_utc_with_milliseconds(moment: datetime, text: str) -> None:
    assert format_rfc3339(moment) == text
