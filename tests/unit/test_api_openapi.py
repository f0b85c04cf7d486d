"""/openapi.json and /docs: every route documented, examples valid, a page that needs no CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import BaseModel

from api import schemas
from api.params import RecommendQuery
from ingest.schema import validate_event


def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


def flask_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        operations |= {(method, path) for method in rule.methods or () if method in {"GET", "POST"}}
    return operations


def test_every_route_is_documented_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    paths = document(client)["paths"]
    documented = {(m.upper(), path) for path, methods in paths.items() for m in methods}
    assert documented == flask_operations(app)


def test_query_parameters_come_from_the_validating_model(client: FlaskClient) -> None:
    operation = document(client)["paths"]["/v1/users/{user_id}/recommendations"]["get"]
    names = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    assert names == list(RecommendQuery.model_fields)
    k = next(p for p in operation["parameters"] if p["name"] == "k")
    assert (k["schema"]["minimum"], k["schema"]["maximum"], k["schema"]["default"]) == (1, 100, 10)


def test_the_event_schema_is_the_contract(client: FlaskClient) -> None:
    schemas_ = document(client)["components"]["schemas"]
    event = schemas_["WatchEvent"]
    assert set(event["required"]) == {"event_id", "user_id", "item_id", "event_type", "timestamp"}
    assert event["properties"]["event_type"]["enum"][:2] == ["view", "watch"]
    forms = {f["type"] for f in event["properties"]["timestamp"]["anyOf"]}
    assert forms == {"integer", "string"}
    assert schemas_["EventBatch"]["properties"]["events"]["maxItems"] == 5  # the test settings


def examples(doc: dict[str, Any]) -> list[tuple[str, int, dict[str, Any], Any]]:
    found = []
    for path, methods in doc["paths"].items():
        for operation in methods.values():
            for status, response in operation["responses"].items():
                for media in response.get("content", {}).values():
                    if "example" in media:
                        found.append((path, int(status), media["schema"], media["example"]))
    return found


def test_every_operation_and_error_has_an_example(client: FlaskClient) -> None:
    doc = document(client)
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if path.startswith("/v1/"):
                    assert "example" in response["content"]["application/json"], (path, status)
            for parameter in operation["parameters"]:
                assert parameter.get("example") is not None, (method, path, parameter["name"])
    assert len(examples(doc)) >= 40


def test_examples_match_their_schemas(client: FlaskClient) -> None:
    doc = document(client)
    for path, status, schema, example in examples(doc):
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        model = getattr(schemas, name, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            model.model_validate(example)
        if status >= 400:
            assert set(example) == {"error"} and set(example["error"]) == {
                "code",
                "message",
                "details",
            }, path
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    for example in body["examples"].values():
        value = example["value"]
        for event in value.get("events", [value]):
            validate_event(event)


def test_admin_operations_need_the_api_key(client: FlaskClient) -> None:
    doc = document(client)
    assert doc["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    for path, methods in doc["paths"].items():
        for operation in methods.values():
            assert ("security" in operation) == path.startswith("/v1/admin/"), path


@pytest.mark.parametrize("status", ["429", "503"])
def test_retry_after_is_documented_where_it_is_sent(client: FlaskClient, status: str) -> None:
    for methods in document(client)["paths"].values():
        for operation in methods.values():
            response = operation["responses"].get(status)
            if response is not None:
                assert response["headers"]["Retry-After"]["required"] is True


def test_docs_page_lists_every_operation_without_outside_resources(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    for methods in document(client)["paths"].values():
        for operation in methods.values():
            assert f'id="{operation["operationId"]}"' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<form" in page and "fetch(" in page
