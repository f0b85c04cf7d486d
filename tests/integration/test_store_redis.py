"""The feature store contract against a real Redis server."""

import pytest
import redis
from redis.crc import key_slot

from ingest.settings import Settings
from stream.redis_store import RedisFeatureStore
from tests.store_contract import FeatureStoreContract, update


class TestRedisFeatureStore(FeatureStoreContract):
    @pytest.fixture
    def store(self, redis_client: redis.Redis, settings: Settings) -> RedisFeatureStore:
        return RedisFeatureStore(redis_client, settings.key_prefix, history_length=3)


def test_dedup_markers_expire_after_the_window(
    redis_client: redis.Redis, settings: Settings
) -> None:
    store = RedisFeatureStore(redis_client, settings.key_prefix, dedup_ttl_seconds=3600)
    store.apply([update("e1", "u", "a")])
    markers = list(redis_client.scan_iter(match=f"{settings.key_prefix}:user:{{u}}:event:*"))
    assert len(markers) == 1
    assert 3500 < redis_client.ttl(markers[0]) <= 3600


def test_keys_of_one_user_share_a_cluster_slot(
    redis_client: redis.Redis, settings: Settings
) -> None:
    store = RedisFeatureStore(redis_client, settings.key_prefix)
    store.apply([update("e1", "user-7", "a")])
    user_keys = list(redis_client.scan_iter(match=f"{settings.key_prefix}:user:*"))
    slots = {key_slot(key) for key in user_keys}
    assert len(user_keys) == 3 and len(slots) == 1
