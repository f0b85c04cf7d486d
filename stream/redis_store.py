"""The Redis implementation of the feature store (a single server or a Redis Cluster)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import NoScriptError

from ingest.settings import Settings
from stream import keys, redis_calls, trending
from stream.features import FeatureUpdate
from stream.redis_calls import Call, CallSettings
from stream.redis_scripts import APPLY_GLOBAL_EVENTS, APPLY_USER_EVENTS, READ_TRENDING
from stream.store import (
    DEFAULT_TRENDING_HALF_LIFE_SECONDS,
    FeatureStore,
    PreparedUpdates,
    now_ms,
)

RedisClient = redis.Redis | RedisCluster
CLUSTER_SCHEME = "redis+cluster://"
SCAN_BATCH = 500


class RedisFeatureStore(FeatureStore):
    """Features in Redis under one key prefix (see ``stream.keys`` for the layout)."""

    def __init__(
        self,
        client: RedisClient,
        prefix: str,
        history_length: int = 200,
        dedup_ttl_seconds: int = 7 * 24 * 3600,
        trending_half_life_seconds: float = DEFAULT_TRENDING_HALF_LIFE_SECONDS,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.history_length = history_length
        self.dedup_ttl_seconds = dedup_ttl_seconds
        self.half_life_ms = trending_half_life_seconds * 1000
        self.cluster = isinstance(client, RedisCluster)
        self._call_settings = CallSettings(
            prefix, history_length, dedup_ttl_seconds, trending_half_life_seconds * 1000
        )
        self._scripts = {
            body: hashlib.sha1(body.encode("utf-8")).hexdigest()
            for body in (APPLY_USER_EVENTS, APPLY_GLOBAL_EVENTS, READ_TRENDING)
        }

    def apply(self, updates: Sequence[FeatureUpdate]) -> int:
        """Apply updates once each (by user_id and event_id) in one round trip; return new ones."""
        return self.apply_prepared(self.prepare(updates))

    def prepare(self, updates: Sequence[FeatureUpdate]) -> PreparedUpdates:
        """Build the script calls (keys and JSON arguments) that apply the updates."""
        user_calls = self._user_calls(updates)
        global_calls = self._global_calls(updates, now_ms()) if updates else []
        return PreparedUpdates(updates, (user_calls + global_calls, len(user_calls)))

    def apply_prepared(self, prepared: PreparedUpdates) -> int:
        """Run the prepared script calls in one pipeline; return how many events were new."""
        calls, n_user_calls = prepared.payload
        if not calls:
            return 0
        return sum(int(result) for result in self._run_scripts(calls)[n_user_calls:])

    def _user_calls(self, updates: Sequence[FeatureUpdate]) -> list[Call]:
        return redis_calls.user_calls(self._call_settings, self._by_slot(updates))

    def _global_calls(self, updates: Sequence[FeatureUpdate], now: int) -> list[Call]:
        return redis_calls.global_calls(self._call_settings, updates, now)

    def _by_slot(self, updates: Sequence[FeatureUpdate]) -> list[Sequence[FeatureUpdate]]:
        """Group updates by the cluster slot of their user (a single group without a cluster)."""
        if not self.cluster:
            return [updates]
        groups: dict[int, list[FeatureUpdate]] = defaultdict(list)
        for update in updates:
            slot = key_slot(keys.user_items_key(self.prefix, update.user_id).encode())
            groups[slot].append(update)
        return list(groups.values())

    def _run_scripts(self, calls: list[Call]) -> list[Any]:
        """Run script calls in one pipeline; load the scripts once if Redis lost them."""
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for body, args in calls:
                pipe.execute_command("EVALSHA", self._scripts[body], *args)
            try:
                return list(pipe.execute())
            except NoScriptError:
                if attempt == 2:
                    raise
                for body in self._scripts:
                    self._scripts[body] = self.client.script_load(body)
        raise AssertionError("unreachable")

    def user_items(self, user_id: str) -> dict[str, float]:
        """Return item_id -> weight for every item the user interacted with (< 0: never show)."""
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

    def trending_items(self, k: int) -> list[tuple[str, float]]:
        """Return the k items with the highest decayed popularity (as of the newest event time)."""
        if k < 1:
            return []
        names = [keys.trending_key(self.prefix), keys.trending_clock_key(self.prefix)]
        landmark, newest, flat = self._run_scripts([(READ_TRENDING, [2, *names, k])])[0]
        if landmark is None or newest is None:
            return []
        scale = trending.normalised(
            1.0, int(float(landmark)), int(float(newest)), self.half_life_ms
        )
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return [(_text(item), float(score) * scale) for item, score in pairs]

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
        raw: dict[Any, Any] = self.client.hgetall(keys.stats_key(self.prefix))
        counters = {_text(name): int(value) for name, value in raw.items()}
        return {"applied": counters.get("applied", 0), "duplicates": counters.get("duplicates", 0)}

    def ping(self) -> None:
        """Raise redis.RedisError if Redis cannot be reached."""
        self.client.ping()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _decode_weights(raw: dict[Any, Any]) -> dict[str, float]:
    return {_text(item): float(weight) for item, weight in raw.items()}


def connect_redis(url: str, timeout_seconds: float) -> RedisClient:
    """Create a client for a Redis URL; ``redis+cluster://host:port`` means a Redis Cluster."""
    options: dict[str, Any] = {
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": timeout_seconds,
    }
    if url.startswith(CLUSTER_SCHEME):
        return RedisCluster.from_url("redis://" + url[len(CLUSTER_SCHEME) :], **options)
    return redis.Redis.from_url(url, **options)


def redis_feature_store(settings: Settings) -> RedisFeatureStore:
    """Build the store a process uses from its Settings."""
    client = connect_redis(settings.redis_url, settings.redis_timeout_seconds)
    return RedisFeatureStore(
        client,
        settings.key_prefix,
        history_length=settings.history_length,
        dedup_ttl_seconds=settings.dedup_ttl_seconds,
        trending_half_life_seconds=settings.trending_half_life_seconds,
    )
