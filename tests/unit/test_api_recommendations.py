"""GET /v1/users/<user_id>/recommendations and /v1/items/<item_id>/similar."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from ingest.publisher import FakeEventPublisher
from ingest.schema import validate_event
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.model import Model
from stream.features import feature_update
from stream.store import InMemoryFeatureStore
from tests.unit.conftest import A_ITEMS, B_ITEMS, assert_error, event


def item_ids(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def test_recommendations_have_the_contract_shape(client: FlaskClient, tiny_model: Model) -> None:
    response = client.get("/v1/users/u0/recommendations?k=3")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {"user_id", "items", "model_version", "generated_at"}
    assert body["user_id"] == "u0"
    assert body["model_version"] == tiny_model.version
    assert body["generated_at"].endswith("Z")
    assert 1 <= len(body["items"]) <= 3
    for item in body["items"]:
        assert set(item) == {"item_id", "score"}
        assert isinstance(item["item_id"], str) and isinstance(item["score"], float)


def test_default_k_is_ten(client: FlaskClient) -> None:
    body = client.get("/v1/users/newcomer/recommendations").get_json()
    assert len(body["items"]) == len(A_ITEMS + B_ITEMS)  # fewer than 10 items exist


def test_watched_items_are_excluded_and_taste_is_followed(
    client: FlaskClient, store: InMemoryFeatureStore
) -> None:
    watched = {"a1", "a2"}
    store.apply([feature_update(validate_event(event("fan", item_id))) for item_id in watched])
    body = client.get("/v1/users/fan/recommendations?k=2").get_json()
    assert body["source"] == "model"
    assert not watched & set(item_ids(body))
    assert set(item_ids(body)) == {"a3", "a4"}


def test_user_who_saw_everything_gets_nothing_seen(client: FlaskClient) -> None:
    body = client.get("/v1/users/u0/recommendations?k=100").get_json()
    assert set(item_ids(body)) == set(B_ITEMS)


def test_unknown_user_gets_popular_items(client: FlaskClient) -> None:
    response = client.get("/v1/users/nobody-yet/recommendations?k=1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["source"] == "popular"
    assert item_ids(body) == ["b1"]


@pytest.mark.parametrize("k", ["0", "101", "abc", "", "1.5", "-3"])
def test_k_out_of_bounds_is_400_naming_k(client: FlaskClient, k: str) -> None:
    for path in ("/v1/users/u1/recommendations", "/v1/items/a1/similar"):
        response = client.get(f"{path}?k={k}")
        assert response.status_code == 400, (path, k)
        error = assert_error(response.get_json(), "invalid_request")
        assert error["details"] == [{"field": "k", "message": "must be an integer from 1 to 100"}]


def test_k_of_one_and_a_hundred_are_allowed(client: FlaskClient) -> None:
    assert client.get("/v1/users/u1/recommendations?k=1").status_code == 200
    assert client.get("/v1/users/u1/recommendations?k=100").status_code == 200


@pytest.mark.parametrize(
    ("path", "field"), [("users/{}/recommendations", "user_id"), ("items/{}/similar", "item_id")]
)
def test_overlong_ids_are_400_naming_the_id(client: FlaskClient, path: str, field: str) -> None:
    response = client.get("/v1/" + path.format("x" * 129))
    assert response.status_code == 400
    assert assert_error(response.get_json(), "invalid_request")["details"][0]["field"] == field


def test_similar_items_have_the_contract_shape(client: FlaskClient, tiny_model: Model) -> None:
    response = client.get("/v1/items/a1/similar?k=3")
    assert response.status_code == 200
    body = response.get_json()
    assert body["item_id"] == "a1"
    assert body["model_version"] == tiny_model.version
    assert "user_id" not in body
    assert set(item_ids(body)) == {"a2", "a3", "a4"}


def test_similar_for_unknown_item_is_404(client: FlaskClient) -> None:
    response = client.get("/v1/items/no-such-item/similar")
    assert response.status_code == 404
    assert_error(response.get_json(), "not_found")


def no_model_app(settings: Settings, store: InMemoryFeatureStore) -> Flask:
    return create_app(
        settings, store=store, publisher=FakeEventPublisher(), models=StaticModelSource(None)
    )


def test_similar_without_a_model_is_503(settings: Settings, store: InMemoryFeatureStore) -> None:
    response = no_model_app(settings, store).test_client().get("/v1/items/a1/similar")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert_error(response.get_json(), "model_not_ready")


def test_recommendations_without_a_model_are_popular(
    settings: Settings, store: InMemoryFeatureStore
) -> None:
    client = no_model_app(settings, store).test_client()
    body = client.get("/v1/users/u0/recommendations?k=2").get_json()
    assert body["model_version"] is None
    assert body["source"] == "popular"
    assert item_ids(body) == ["b1", "b2"]
