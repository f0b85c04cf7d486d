"""Fixtures for tests against the real Kafka broker and Redis server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from ingest.settings import Settings, load_settings


@pytest.fixture
def settings(isolated: dict[str, object]) -> Settings:
    """Settings pointing at the real services, private to this test."""
    return load_settings(**isolated)


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    """A Redis client; every key under this test's prefix is deleted afterwards."""
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    for key in client.scan_iter(match=f"{settings.key_prefix}:*", count=1000):
        client.delete(key)
    client.close()
