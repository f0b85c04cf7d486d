"""The Redis implementation of the feature store."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from ingest.settings import Settings
from stream import keys
from stream.features import FeatureUpdate
from stream.store import FeatureStore

# Applies one event atomically, once: the SET NX marker and the feature writes happen together,
# so a redelivered event (worker crashed before committing its offset) changes nothing.
# KEYS: seen, items, history, users, popularity, stats
# ARGV: dedup ttl, user_id, item_id, weight, timestamp_ms, history entry, history length
APPLY_EVENT_LUA = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('HINCRBY', KEYS[6], 'duplicates', 1)
  return 0
end
redis.call('HINCRBYFLOAT', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[7])
if excess > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, excess - 1) end
redis.call('SADD', KEYS[4], ARGV[2])
if tonumber(ARGV[4]) > 0 then redis.call('ZINCRBY', KEYS[5], ARGV[4], ARGV[3]) end
redis.call('HINCRBY', KEYS[6], 'applied', 1)
return 1
"""

SCAN_BATCH = 500


class RedisFeatureStore(FeatureStore):
    """Features in Redis under one key prefix (see ``stream.keys`` for the layout)."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        history_length: int = 200,
        dedup_ttl_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.history_length = history_length
        self.dedup_ttl_seconds = dedup_ttl_seconds
        self._apply_script = client.register_script(APPLY_EVENT_LUA)

    def apply(self, updates: Sequence[FeatureUpdate]) -> int:
        """Apply updates once each (by event_id) in one round trip; return how many were new."""
        if not updates:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for update in updates:
            self._apply_script(
                keys=self._keys_for(update), args=self._args_for(update), client=pipe
            )
        return sum(int(result) for result in pipe.execute())

    def _keys_for(self, update: FeatureUpdate) -> list[str]:
        p = self.prefix
        return [
            keys.event_seen_key(p, update.user_id, update.event_id),
            keys.user_items_key(p, update.user_id),
            keys.user_history_key(p, update.user_id),
            keys.users_key(p),
            keys.popularity_key(p),
            keys.stats_key(p),
        ]

    def _args_for(self, update: FeatureUpdate) -> list[Any]:
        return [
            self.dedup_ttl_seconds,
            update.user_id,
            update.item_id,
            repr(float(update.weight)),
            update.timestamp_ms,
            update.history_entry,
            self.history_length,
        ]

    def user_items(self, user_id: str) -> dict[str, float]:
        """Return item_id -> weight for every item the user interacted with."""
        raw = self.client.hgetall(keys.user_items_key(self.prefix, user_id))
        return _decode_weights(raw)

    def user_history(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Return the user's most recent events, newest first (by event time)."""
        key = keys.user_history_key(self.prefix, user_id)
        entries: list[bytes] = self.client.zrevrange(key, 0, limit - 1)  # type: ignore[assignment]
        return [json.loads(entry) for entry in entries]

    def popular_items(self, k: int) -> list[tuple[str, float]]:
        """Return the k most popular items with their popularity, most popular first."""
        key = keys.popularity_key(self.prefix)
        ranked: list[tuple[bytes, float]] = self.client.zrevrange(  # type: ignore[assignment]
            key, 0, k - 1, withscores=True
        )
        return [(_text(item), float(score)) for item, score in ranked]

    def iter_user_items(self) -> Iterator[tuple[str, dict[str, float]]]:
        """Yield (user_id, user_items) for every user with features, in batches of reads."""
        batch: list[str] = []
        for user_id in self.client.sscan_iter(keys.users_key(self.prefix), count=SCAN_BATCH):
            batch.append(_text(user_id))
            if len(batch) >= SCAN_BATCH:
                yield from self._read_batch(batch)
                batch = []
        yield from self._read_batch(batch)

    def _read_batch(self, user_ids: list[str]) -> Iterator[tuple[str, dict[str, float]]]:
        pipe = self.client.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.hgetall(keys.user_items_key(self.prefix, user_id))
        for user_id, raw in zip(user_ids, pipe.execute(), strict=True):
            yield user_id, _decode_weights(raw)

    def stats(self) -> dict[str, int]:
        """Return counters: ``applied`` and ``duplicates``."""
        raw = self.client.hgetall(keys.stats_key(self.prefix))
        counters = {_text(name): int(value) for name, value in raw.items()}
        return {"applied": counters.get("applied", 0), "duplicates": counters.get("duplicates", 0)}

    def ping(self) -> None:
        """Raise redis.RedisError if Redis cannot be reached."""
        self.client.ping()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _decode_weights(raw: dict[Any, Any]) -> dict[str, float]:
    return {_text(item): float(weight) for item, weight in raw.items()}


def connect_redis(url: str, timeout_seconds: float) -> redis.Redis:
    """Create a Redis client with bounded timeouts (nothing is sent until first use)."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
    )


def redis_feature_store(settings: Settings) -> RedisFeatureStore:
    """Build the store a process uses from its Settings."""
    client = connect_redis(settings.redis_url, settings.redis_timeout_seconds)
    return RedisFeatureStore(
        client,
        settings.key_prefix,
        history_length=settings.history_length,
        dedup_ttl_seconds=settings.dedup_ttl_seconds,
    )
