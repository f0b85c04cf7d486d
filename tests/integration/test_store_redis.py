"""The feature store contract against a real Redis server, and what only Redis can show."""

import pytest
import redis
from redis.crc import key_slot

from ingest.settings import Settings
from stream import keys
from stream.redis_store import RedisFeatureStore
from tests.store_contract import DAY_MS, T0, FeatureStoreContract, update, views


class TestRedisFeatureStore(FeatureStoreContract):
    @pytest.fixture
    def store(self, redis_client: redis.Redis, settings: Settings) -> RedisFeatureStore:
        return RedisFeatureStore(redis_client, settings.key_prefix, history_length=3)


@pytest.fixture
def store(redis_client: redis.Redis, settings: Settings) -> RedisFeatureStore:
    return RedisFeatureStore(redis_client, settings.key_prefix, dedup_ttl_seconds=3600)


def test_dedup_markers_expire_after_the_window(
    redis_client: redis.Redis, settings: Settings, store: RedisFeatureStore
) -> None:
    store.apply([update("e1", "u", "a")])
    user_marker = keys.event_seen_key(settings.key_prefix, "u", "e1")
    global_marker = keys.global_seen_key(settings.key_prefix, 1000)
    for marker in (user_marker, global_marker):
        assert 3500 < redis_client.ttl(marker) <= 3600


def test_keys_of_one_user_share_a_cluster_slot_and_global_keys_another(
    redis_client: redis.Redis, settings: Settings, store: RedisFeatureStore
) -> None:
    store.apply([update("e1", "user-7", "a"), update("e2", "user-8", "b")])
    prefix = settings.key_prefix
    user_keys = list(redis_client.scan_iter(match=f"{prefix}:user:{{user-7}}:*"))
    global_keys = list(redis_client.scan_iter(match=f"{prefix}:{{global}}:*"))
    assert len(user_keys) == 3 and len({key_slot(key) for key in user_keys}) == 1
    assert len(global_keys) == 6 and len({key_slot(key) for key in global_keys}) == 1


def test_a_crash_between_the_two_parts_is_completed_by_the_redelivery(
    store: RedisFeatureStore,
) -> None:
    first = [update("e1", "u", "a", "like"), update("e2", "v", "a")]
    store._run_scripts(store._user_calls(first))  # the worker died before the global part
    assert store.user_items("u") == {"a": 4.0}
    assert store.stats() == {"applied": 0, "duplicates": 0}
    second = [update("e3", "u", "b")]
    store._run_scripts(store._global_calls(second, now=0))  # ... or before the per-user part
    assert store.apply(first + second) == 2
    assert (store.user_items("u"), store.user_items("v")) == ({"a": 4.0, "b": 1.0}, {"a": 1.0})
    assert store.popular_items(5) == [("a", 5.0), ("b", 1.0)]
    assert store.stats() == {"applied": 3, "duplicates": 1}


def test_scripts_are_loaded_again_when_redis_lost_them(store: RedisFeatureStore) -> None:
    store._scripts = dict.fromkeys(store._scripts, "0" * 40)
    assert store.apply([update("e1", "u", "a")]) == 1
    assert store.trending_items(1) == [("a", 1.0)]


def test_a_rebase_moves_the_landmark_and_drops_faded_items(
    redis_client: redis.Redis, settings: Settings, store: RedisFeatureStore
) -> None:
    clock = keys.trending_clock_key(settings.key_prefix)
    store.apply(views("faded", 3, T0))
    assert float(redis_client.hget(clock, "landmark_ms")) == T0
    store.apply(views("fresh", 1, T0 + 100 * DAY_MS))
    assert float(redis_client.hget(clock, "landmark_ms")) == T0 + 100 * DAY_MS
    members = redis_client.zrange(keys.trending_key(settings.key_prefix), 0, -1)
    assert members == [b"fresh"]
