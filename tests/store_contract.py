"""One contract for every FeatureStore: run against InMemoryFeatureStore and RedisFeatureStore."""

from __future__ import annotations

from ingest.schema import validate_event
from stream.features import FeatureUpdate, feature_update
from stream.store import FeatureStore


def update(
    event_id: str, user_id: str, item_id: str, event_type: str = "view", ts: int = 1000
) -> FeatureUpdate:
    return feature_update(
        validate_event(
            {
                "event_id": event_id,
                "user_id": user_id,
                "item_id": item_id,
                "event_type": event_type,
                "timestamp": ts,
            }
        )
    )


class FeatureStoreContract:
    """Subclasses provide a ``store`` fixture returning an empty store with history_length=3."""

    def test_apply_accumulates_weights_per_item(self, store: FeatureStore) -> None:
        applied = store.apply(
            [update("e1", "u", "a"), update("e2", "u", "a", "like"), update("e3", "u", "b", "skip")]
        )
        assert applied == 3
        assert store.user_items("u") == {"a": 5.0, "b": 0.0}
        assert store.user_items("nobody") == {}

    def test_redelivered_event_changes_nothing(self, store: FeatureStore) -> None:
        store.apply([update("e1", "u", "a")])
        assert store.apply([update("e1", "u", "a"), update("e2", "u", "b")]) == 1
        assert store.user_items("u") == {"a": 1.0, "b": 1.0}
        assert store.stats() == {"applied": 2, "duplicates": 1}

    def test_history_is_newest_first_by_event_time_and_bounded(self, store: FeatureStore) -> None:
        store.apply(
            [
                update("e1", "u", "a", ts=30),
                update("e2", "u", "b", ts=10),
                update("e3", "u", "c", ts=40),
                update("e4", "u", "d", ts=20),
            ]
        )
        history = store.user_history("u", limit=10)
        assert [entry["item_id"] for entry in history] == ["c", "a", "d"]
        assert history[0] == {
            "event_id": "e3",
            "item_id": "c",
            "event_type": "view",
            "timestamp": 40,
        }
        assert [e["item_id"] for e in store.user_history("u", limit=1)] == ["c"]

    def test_popularity_counts_positive_weight_only(self, store: FeatureStore) -> None:
        store.apply(
            [
                update("e1", "u1", "a", "share"),
                update("e2", "u2", "b"),
                update("e3", "u3", "b"),
                update("e4", "u4", "c", "dislike"),
            ]
        )
        assert store.popular_items(10) == [("a", 5.0), ("b", 2.0)]
        assert store.popular_items(1) == [("a", 5.0)]

    def test_iter_user_items_lists_every_user(self, store: FeatureStore) -> None:
        store.apply([update(f"e{n}", f"user-{n % 7}", f"item-{n}") for n in range(50)])
        users = dict(store.iter_user_items())
        assert sorted(users) == sorted(f"user-{n}" for n in range(7))
        assert sum(len(items) for items in users.values()) == 50

    def test_ids_with_key_syntax_stay_apart(self, store: FeatureStore) -> None:
        store.apply([update("e1", "a}:items", "x"), update("e2", "a", "y")])
        assert store.user_items("a}:items") == {"x": 1.0}
        assert store.user_items("a") == {"y": 1.0}

    def test_ping(self, store: FeatureStore) -> None:
        store.ping()
