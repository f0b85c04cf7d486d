"""CORS, the public rate limit and the token buckets behind it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.ratelimit import RateLimiter
from ingest.errors import ConfigError
from ingest.publisher import FakeEventPublisher
from ingest.settings import Settings, load_settings
from recommender.artifacts import StaticModelSource
from recommender.model import Model
from stream.store import InMemoryFeatureStore
from tests.unit.conftest import assert_error, event

FRONT_END = "https://app.example.com"


def configured_app(settings: Settings, model: Model, **changes: object) -> Flask:
    return create_app(
        settings.model_copy(update=changes),
        store=InMemoryFeatureStore(),
        publisher=FakeEventPublisher(),
        models=StaticModelSource(model),
    )


@pytest.fixture
def cors_client(settings: Settings, tiny_model: Model) -> FlaskClient:
    origins = f"{FRONT_END},http://localhost:3000"
    return configured_app(settings, tiny_model, cors_origins=origins).test_client()


def test_an_allowed_origin_may_read_answers(cors_client: FlaskClient) -> None:
    response = cors_client.get("/v1/trending", headers={"Origin": FRONT_END})
    assert response.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_other_origins_get_no_cors_headers(cors_client: FlaskClient) -> None:
    response = cors_client.get("/v1/trending", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight_allows_json_posts_but_never_the_api_key(cors_client: FlaskClient) -> None:
    headers = {
        "Origin": FRONT_END,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    response = cors_client.options("/v1/events", headers=headers)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    assert "X-API-Key" not in response.headers["Access-Control-Allow-Headers"]
    refused = cors_client.options("/v1/events", headers=headers | {"Origin": "https://evil.x"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_no_cors_setting_means_no_cors_headers(client: FlaskClient) -> None:
    response = client.get("/v1/trending", headers={"Origin": FRONT_END})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_bad_cors_setting_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMREC_CORS_ORIGINS", "app.example.com")
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        load_settings()


def test_public_rate_limit_answers_429_with_retry_after(
    settings: Settings, tiny_model: Model
) -> None:
    app = configured_app(settings, tiny_model, rate_limit_per_second=1.0, rate_limit_burst=3)
    client = app.test_client()
    statuses = [client.get("/v1/trending").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.post("/v1/events", json=event("u1", "a1"))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert_error(response.get_json(), "too_many_requests")
    assert client.get("/healthz").status_code == 200  # probes are never limited


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.wait_seconds("a") for _ in range(3)] == [0, 0, 1]
    assert limiter.wait_seconds("b") == 0  # buckets are per client
    now[0] += 0.5
    assert limiter.wait_seconds("a") == 0


def test_token_buckets_forget_the_oldest_clients() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_clients=2)
    for client in ("a", "b", "c"):
        limiter.wait_seconds(client)
    assert limiter.wait_seconds("a") == 0  # "a" was forgotten, so it starts with a full bucket
