"""GET /v1/users/<user_id>/recommendations and /v1/items/<item_id>/similar."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.schemas import History, ItemList, SimilarItems, UserRecommendations
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
    assert set(body) >= {"user_id", "items", "model_version", "generated_at", "source"}
    UserRecommendations.model_validate(body, strict=True)
    assert body["user_id"] == "u0"
    assert body["model_version"] == tiny_model.version
    assert body["generated_at"].endswith("Z")
    assert body["degraded"] is False
    assert 1 <= len(body["items"]) <= 3
    for item in body["items"]:
        assert set(item) == {"item_id", "score", "because"}
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


def test_unknown_user_gets_trending_items(client: FlaskClient) -> None:
    response = client.get("/v1/users/nobody-yet/recommendations?k=1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["source"] == "trending"
    assert item_ids(body) == ["b1"]
    assert body["items"][0]["because"] == []


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
    assert body["source"] in {"trending", "popular"}
    assert item_ids(body) == ["b1", "b2"]


def catalogue_app(settings: Settings, store: InMemoryFeatureStore, model: Model) -> Flask:
    path = settings.model_dir.parent / "items.csv"
    rows = [f"{item},{item},{'Alpha' if item[0] == 'a' else 'Beta'}" for item in A_ITEMS + B_ITEMS]
    path.write_text("item_id,title,categories\n" + "\n".join(rows) + "\n")
    configured = settings.model_copy(update={"catalogue_path": path})
    return create_app(
        configured, store=store, publisher=FakeEventPublisher(), models=StaticModelSource(model)
    )


def test_personal_items_say_because(client: FlaskClient, store: InMemoryFeatureStore) -> None:
    store.apply([feature_update(validate_event(event("fan", item))) for item in ("a1", "a2")])
    body = client.get("/v1/users/fan/recommendations?k=2").get_json()
    assert body["source"] == "model"
    for item in body["items"]:
        assert item["because"] and set(item["because"]) <= {"a1", "a2"}


def test_exclude_and_include_seen(client: FlaskClient, store: InMemoryFeatureStore) -> None:
    store.apply([feature_update(validate_event(event("fan", item))) for item in ("a1", "a2")])
    body = client.get("/v1/users/fan/recommendations?k=2&exclude=a3").get_json()
    assert "a3" not in item_ids(body) and not {"a1", "a2"} & set(item_ids(body))
    body = client.get("/v1/users/fan/recommendations?k=8&include_seen=true").get_json()
    assert {"a1", "a2"} <= set(item_ids(body))
    body = client.get("/v1/users/fan/recommendations?k=8&include_seen=false").get_json()
    assert not {"a1", "a2"} & set(item_ids(body))


def test_category_filters_every_list(
    settings: Settings, store: InMemoryFeatureStore, tiny_model: Model
) -> None:
    client = catalogue_app(settings, store, tiny_model).test_client()
    for path in ("/v1/users/u0/recommendations", "/v1/items/a1/similar", "/v1/trending"):
        body = client.get(f"{path}?category=beta&k=3").get_json()
        assert item_ids(body) and all(item.startswith("b") for item in item_ids(body)), path
    response = client.get("/v1/trending?category=Gamma")
    assert response.status_code == 400
    assert assert_error(response.get_json(), "invalid_request")["details"][0]["field"] == "category"


def test_trending_lists_items_without_user_or_item(client: FlaskClient) -> None:
    response = client.get("/v1/trending?k=2&exclude=b1")
    assert response.status_code == 200
    body = response.get_json()
    assert "user_id" not in body and "item_id" not in body
    assert body["source"] == "trending" and body["degraded"] is False
    assert len(body["items"]) == 2 and "b1" not in item_ids(body)
    ItemList.model_validate(body, strict=True)


def test_similar_items_accept_exclude(client: FlaskClient) -> None:
    body = client.get("/v1/items/a1/similar?k=3&exclude=a2").get_json()
    assert set(item_ids(body)) == {"a3", "a4"} or "a2" not in item_ids(body)
    SimilarItems.model_validate(body, strict=True)


def test_history_is_newest_first(client: FlaskClient, store: InMemoryFeatureStore) -> None:
    events = [event("fan", item, n=n) for n, item in enumerate(["a1", "b2", "a3"])]
    store.apply([feature_update(validate_event(data)) for data in events])
    response = client.get("/v1/users/fan/history?limit=2")
    assert response.status_code == 200
    body = History.model_validate(response.get_json()).model_dump()
    assert body["user_id"] == "fan"
    assert [e["item_id"] for e in body["events"]] == ["a3", "b2"]
    assert set(body["events"][0]) >= {"event_id", "item_id", "event_type", "timestamp"}
    assert client.get("/v1/users/nobody/history").get_json() == {"user_id": "nobody", "events": []}


@pytest.mark.parametrize("limit", ["0", "201", "x"])
def test_history_limit_is_checked(client: FlaskClient, limit: str) -> None:
    response = client.get(f"/v1/users/fan/history?limit={limit}")
    assert response.status_code == 400
    assert assert_error(response.get_json(), "invalid_request")["details"][0]["field"] == "limit"


@pytest.mark.parametrize("user_id", ["a/b", "with space", "caf\u00e9", "..", "{x}", "%"])
def test_any_event_user_id_can_be_asked_for(
    client: FlaskClient, store: InMemoryFeatureStore, user_id: str
) -> None:
    store.apply([feature_update(validate_event(event("x", "a1") | {"user_id": user_id}))])
    path = f"/v1/users/{quote(user_id, safe='')}/history"
    body = client.get(path).get_json()
    assert body["user_id"] == user_id and [e["item_id"] for e in body["events"]] == ["a1"]
    assert client.get(path.replace("/history", "/recommendations")).status_code == 200


@pytest.mark.parametrize("raw", ["a%00b", "%0a", "%7F", "%C2%85"])
def test_control_characters_in_ids_are_400(client: FlaskClient, raw: str) -> None:
    response = client.get(f"/v1/users/{raw}/recommendations")
    assert response.status_code == 400
    assert assert_error(response.get_json(), "invalid_request")["details"][0]["field"] == "user_id"


@pytest.mark.parametrize(
    ("url", "field"),
    [("/v1/users/%ff%fe/recommendations", "path"), ("/v1/trending?k=%ff", "query")],
)
def test_urls_that_are_not_utf8_are_400(client: FlaskClient, url: str, field: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert assert_error(response.get_json(), "invalid_request")["details"][0]["field"] == field


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users/a%0Ab/recommendations",
        "/v1/users/a%0Ab/history",
        "/v1/items/a%0D%0Ab/similar",
    ],
)
def test_an_id_with_a_line_break_is_a_bad_field_not_an_unknown_route(
    client: FlaskClient, path: str
) -> None:
    # Found by the fuzzer: the router's path pattern stopped at a line break, so these were 404.
    response = client.get(path)
    field = "item_id" if "/items/" in path else "user_id"
    assert response.status_code == 400
    assert assert_error(response.get_json(), "invalid_request")["details"][0]["field"] == field
