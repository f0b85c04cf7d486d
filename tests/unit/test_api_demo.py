"""/demo and GET /v1/items: the demo page's files, and titles from the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from api import create_app
from api.items import find_items
from ingest.publisher import FakeEventPublisher
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.catalogue import Catalogue
from recommender.model import Model
from stream.store import InMemoryFeatureStore
from tests.unit.conftest import assert_error

CATALOGUE = (
    "item_id,title,categories\n"
    "a1,Alpha Star,Action|Sci-Fi\n"
    "a2,Another Alpha,Action\n"
    "b1,Beta Star,Drama\n"
)


@pytest.fixture
def catalogue_client(
    settings: Settings, store: InMemoryFeatureStore, tiny_model: Model, tmp_path: Path
) -> FlaskClient:
    """A client of the API with a three-item catalogue."""
    path = tmp_path / "items.csv"
    path.write_text(CATALOGUE)
    configured = settings.model_copy(update={"catalogue_path": path})
    models = StaticModelSource(tiny_model)
    app = create_app(configured, store=store, publisher=FakeEventPublisher(), models=models)
    return app.test_client()


def test_items_by_id_carry_titles_and_sorted_categories(catalogue_client: FlaskClient) -> None:
    body = catalogue_client.get("/v1/items?ids=b1,a1,zz").get_json()
    assert body["items"] == [
        {"item_id": "a1", "title": "Alpha Star", "categories": ["Action", "Sci-Fi"]},
        {"item_id": "b1", "title": "Beta Star", "categories": ["Drama"]},
        {"item_id": "zz", "title": None, "categories": []},
    ]
    repeated = catalogue_client.get("/v1/items?ids=a1&ids=a2").get_json()
    assert [item["item_id"] for item in repeated["items"]] == ["a1", "a2"]


def test_items_search_titles_case_insensitively_up_to_k(catalogue_client: FlaskClient) -> None:
    found = catalogue_client.get("/v1/items?q=STAR").get_json()["items"]
    assert [item["item_id"] for item in found] == ["a1", "b1"]  # catalogue order
    first = catalogue_client.get("/v1/items?q=star&k=1").get_json()["items"]
    assert [item["item_id"] for item in first] == ["a1"]
    browse = catalogue_client.get("/v1/items?k=2").get_json()["items"]
    assert [item["item_id"] for item in browse] == ["a1", "a2"]
    both = catalogue_client.get("/v1/items?ids=a1,a2,zz&q=another").get_json()["items"]
    assert [item["item_id"] for item in both] == ["a2"]


def test_items_without_a_catalogue_have_no_titles(client: FlaskClient) -> None:
    assert client.get("/v1/items?q=star").get_json() == {"items": []}
    body = client.get("/v1/items?ids=a1").get_json()
    assert body == {"items": [{"item_id": "a1", "title": None, "categories": []}]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("ids=" + ",".join(f"i{n}" for n in range(101)), "ids"),
        ("q=" + "x" * 101, "q"),
        ("k=0", "k"),
    ],
)
def test_items_reject_bad_parameters_naming_them(
    client: FlaskClient, query: str, field: str
) -> None:
    response = client.get(f"/v1/items?{query}")
    assert response.status_code == 400
    assert assert_error(response.get_json(), "invalid_request")["details"][0]["field"] == field


def test_find_items_stops_at_k_and_keeps_unknown_ids() -> None:
    catalogue = Catalogue({"1": "One", "2": "Two", "3": "Three"}, {})
    assert find_items(catalogue, [], "t", 5) == ["2", "3"]
    assert find_items(catalogue, [], "", 2) == ["1", "2"]
    assert find_items(catalogue, ["9", "1"], "", 5) == ["1", "9"]


def test_demo_page_is_self_contained_and_strictly_confined(client: FlaskClient) -> None:
    response = client.get("/demo")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    page = response.get_data(as_text=True)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script>" not in page and "style=" not in page  # the policy would block inline code
    for asset, kind in (("static/demo.js", "text/javascript"), ("static/demo.css", "text/css")):
        assert f'"{asset}"' in page
        served = client.get(f"/{asset}")
        assert served.status_code == 200
        assert served.content_type.startswith(kind)


def test_demo_script_calls_only_documented_operations(client: FlaskClient) -> None:
    script = client.get("/static/demo.js").get_data(as_text=True)
    called = set(re.findall(r'"(v1/[^"]+)"', script))
    documented = set(client.get("/openapi.json").get_json()["paths"])
    assert {"v1/events", "v1/items", "v1/users/{user_id}/recommendations"} <= called
    assert {f"/{path}" for path in called} <= documented
    assert "http://" not in script and "https://" not in script
