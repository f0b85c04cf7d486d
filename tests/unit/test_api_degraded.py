"""Degraded mode: Redis failing or slow still gets recommendations, from the model artifact."""

from __future__ import annotations

import pytest
import redis
from flask import Flask

from api import create_app
from api.backends import backends
from api.degraded import ModelPopularityStore, Outage, call_with_fallback
from ingest.publisher import FakeEventPublisher
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.model import Model
from stream.store import InMemoryFeatureStore
from tests.unit.conftest import assert_error, fill_tiny


class FlakyRedisStore(InMemoryFeatureStore):
    """The two-taste store behind a Redis that can be switched off; counts the reads."""

    def __init__(self) -> None:
        super().__init__()
        self.down, self.reads = False, 0
        fill_tiny(self)
        self.down = True

    def _read(self) -> None:
        self.reads += 1
        if self.down:
            raise redis.TimeoutError("Timeout reading from 127.0.0.1:16379")

    def user_items(self, user_id: str) -> dict[str, float]:
        self._read()
        return super().user_items(user_id)

    def user_history(self, user_id: str, limit: int) -> list[dict[str, object]]:
        self._read()
        return super().user_history(user_id, limit)

    def trending_items(self, k: int) -> list[tuple[str, float]]:
        self._read()
        return super().trending_items(k)


def flaky_app(settings: Settings, store: FlakyRedisStore, model: Model | None) -> Flask:
    return create_app(
        settings, store=store, publisher=FakeEventPublisher(), models=StaticModelSource(model)
    )


def test_redis_down_still_recommends_from_the_model(settings: Settings, tiny_model: Model) -> None:
    store = FlakyRedisStore()
    client = flaky_app(settings, store, tiny_model).test_client()
    response = client.get("/v1/users/u0/recommendations?k=2")
    assert response.status_code == 200
    body = response.get_json()
    assert body["degraded"] is True
    assert body["model_version"] == tiny_model.version
    expected = [item_id for item_id, _ in tiny_model.popular_items(2)]
    assert [item["item_id"] for item in body["items"]] == expected
    assert "16379" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/v1/trending?k=3", "/v1/items/a1/similar?k=3"])
def test_every_list_survives_redis_down(settings: Settings, tiny_model: Model, path: str) -> None:
    client = flaky_app(settings, FlakyRedisStore(), tiny_model).test_client()
    response = client.get(path)
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == 3


def test_redis_is_skipped_for_a_while_after_a_failure(
    settings: Settings, tiny_model: Model
) -> None:
    store = FlakyRedisStore()
    app = flaky_app(settings, store, tiny_model)
    client = app.test_client()
    for _ in range(5):
        assert client.get("/v1/users/u0/recommendations").get_json()["degraded"] is True
    assert store.reads == 1  # one timeout paid, then no more waiting on a dead Redis
    response = client.get("/v1/users/u0/history")
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert_error(response.get_json(), "unavailable")
    store.down = False
    backends(app).redis_outage.clear()
    body = client.get("/v1/users/u0/recommendations").get_json()
    assert body["degraded"] is False and body["source"] == "model"


def test_no_model_and_no_redis_is_an_empty_degraded_list(settings: Settings) -> None:
    client = flaky_app(settings, FlakyRedisStore(), None).test_client()
    body = client.get("/v1/users/u0/recommendations").get_json()
    assert (body["items"], body["degraded"], body["model_version"]) == ([], True, None)


def test_outage_expires() -> None:
    now = [100.0]
    outage = Outage("Redis", 5.0, clock=lambda: now[0])
    assert not outage.active()
    outage.record(redis.ConnectionError("refused"))
    assert outage.active()
    now[0] += 5.0
    assert not outage.active()


def test_fallback_only_on_redis_errors() -> None:
    outage = Outage("Redis", 5.0)

    def broken() -> str:
        raise ValueError("a bug, not an outage")

    assert call_with_fallback(outage, lambda: "fresh", lambda: "stale") == ("fresh", False)
    with pytest.raises(ValueError):
        call_with_fallback(outage, broken, lambda: "stale")
    assert not outage.active()


def test_model_popularity_store_serves_the_artifact(tiny_model: Model) -> None:
    store = ModelPopularityStore(StaticModelSource(tiny_model))
    assert store.popular_items(3) == tiny_model.popular_items(3)
    assert store.user_items("u0") == {} and store.trending_items(3) == []
    assert ModelPopularityStore(StaticModelSource(None)).popular_items(3) == []
