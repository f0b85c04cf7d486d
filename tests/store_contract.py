"""One contract for every FeatureStore: run against InMemoryFeatureStore and RedisFeatureStore."""

from __future__ import annotations

import pytest

from ingest.schema import validate_event
from stream.features import FeatureUpdate, feature_update
from stream.store import FeatureStore

DAY_MS = 86_400_000  # the stores under contract keep the default trending half-life of a day
T0 = 1_000_000_000_000  # 2001: far-apart times below stay in the past


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


def views(item_id: str, n: int, ts: int, tag: str = "") -> list[FeatureUpdate]:
    """n view events of one item by n different users at one event time."""
    return [update(f"{item_id}-{ts}-{tag}{i}", f"u{i}", item_id, ts=ts) for i in range(n)]


class FeatureStoreContract:
    """Subclasses provide a ``store`` fixture returning an empty store with history_length=3."""

    def test_apply_accumulates_weights_per_item(self, store: FeatureStore) -> None:
        applied = store.apply(
            [update("e1", "u", "a"), update("e2", "u", "a", "like"), update("e3", "u", "b", "skip")]
        )
        assert applied == 3
        assert store.user_items("u") == {"a": 5.0, "b": -1.0}
        assert store.user_items("nobody") == {}

    def test_skip_lowers_the_item_each_time(self, store: FeatureStore) -> None:
        store.apply([update("e1", "u", "a", "skip"), update("e2", "u", "b", "watch")])
        store.apply([update("e3", "u", "a", "skip"), update("e4", "u", "b", "skip")])
        assert store.user_items("u") == {"a": -2.0, "b": 1.0}

    def test_dislike_replaces_the_weight_and_later_events_add_on_top(
        self, store: FeatureStore
    ) -> None:
        store.apply([update("e1", "u", "a", "share"), update("e2", "u", "a", "dislike")])
        assert store.user_items("u") == {"a": -1.0}
        store.apply([update("e3", "u", "a", "dislike"), update("e4", "u", "a", "like")])
        assert store.user_items("u") == {"a": 3.0}

    def test_events_of_one_user_apply_in_order_within_a_batch(self, store: FeatureStore) -> None:
        store.apply(
            [
                update("e1", "u", "a", "like"),
                update("e2", "u", "a", "dislike"),
                update("e3", "u", "a", "view"),
            ]
        )
        assert store.user_items("u") == {"a": 0.0}

    def test_redelivered_event_changes_nothing(self, store: FeatureStore) -> None:
        store.apply([update("e1", "u", "a")])
        assert store.apply([update("e1", "u", "a"), update("e2", "u", "b")]) == 1
        assert store.apply([update("e2", "u", "b"), update("e3", "u", "a", "dislike")]) == 1
        assert store.apply([update("e3", "u", "a", "dislike")]) == 0
        assert store.user_items("u") == {"a": -1.0, "b": 1.0}
        assert store.stats() == {"applied": 3, "duplicates": 3}

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
                update("e5", "u5", "a", "dislike"),
                update("e6", "u6", "b", "skip"),
            ]
        )
        assert store.popular_items(10) == [("a", 5.0), ("b", 2.0)]
        assert store.popular_items(1) == [("a", 5.0)]

    def test_trending_is_positive_weight_at_the_newest_event_time(
        self, store: FeatureStore
    ) -> None:
        assert store.trending_items(5) == []
        store.apply(views("a", 2, T0) + [update("s", "u", "b", "skip", ts=T0 + DAY_MS)])
        store.apply([update("l", "u", "c", "like", ts=T0 + DAY_MS)])
        trending = store.trending_items(5)
        assert [item for item, _ in trending] == ["c", "a"]
        assert dict(trending) == pytest.approx({"c": 4.0, "a": 1.0})
        assert store.trending_items(1) == [trending[0]]

    def test_trending_order_changes_as_newer_events_arrive(self, store: FeatureStore) -> None:
        store.apply(views("old", 10, T0) + views("new", 1, T0))
        assert [item for item, _ in store.trending_items(2)] == ["old", "new"]
        store.apply(views("new", 3, T0 + 4 * DAY_MS))
        ranked = store.trending_items(2)
        assert [item for item, _ in ranked] == ["new", "old"]
        assert dict(ranked) == pytest.approx({"old": 10 / 16, "new": 3 + 1 / 16})

    def test_late_events_count_with_their_decayed_weight(self, store: FeatureStore) -> None:
        store.apply(views("a", 1, T0 + 2 * DAY_MS))
        store.apply(views("b", 8, T0, tag="late"))
        assert dict(store.trending_items(5)) == pytest.approx({"b": 2.0, "a": 1.0})

    def test_trending_survives_event_times_far_apart(self, store: FeatureStore) -> None:
        store.apply(views("ancient", 5, T0))
        store.apply(views("recent", 2, T0 + 5000 * DAY_MS))
        store.apply(views("late", 1, T0 + 10 * DAY_MS))
        store.apply(views("recent", 1, T0 + 5000 * DAY_MS + DAY_MS, tag="next"))
        trending = dict(store.trending_items(5))
        assert trending["recent"] == pytest.approx(2 / 2 + 1)
        assert trending.get("ancient", 0.0) == pytest.approx(0.0)
        assert trending.get("late", 0.0) == pytest.approx(0.0)

    def test_iter_user_items_lists_every_user(self, store: FeatureStore) -> None:
        store.apply([update(f"e{n}", f"user-{n % 7}", f"item-{n}") for n in range(50)])
        users = dict(store.iter_user_items())
        assert sorted(users) == sorted(f"user-{n}" for n in range(7))
        assert sum(len(items) for items in users.values()) == 50

    def test_ids_with_key_syntax_stay_apart(self, store: FeatureStore) -> None:
        store.apply(
            [
                update("e1", "a}:items", "x"),
                update("e2", "a", "y"),
                update("e1", "a:b", "z"),
                update("b:e1", "a", "w"),
            ]
        )
        assert store.user_items("a}:items") == {"x": 1.0}
        assert store.user_items("a") == {"y": 1.0, "w": 1.0}
        assert store.user_items("a:b") == {"z": 1.0}
        assert store.stats() == {"applied": 4, "duplicates": 0}

    def test_ping(self, store: FeatureStore) -> None:
        store.ping()
