"""POST /v1/events: validation, all-or-nothing publishing and the error answers."""

from __future__ import annotations

import json

from flask.testing import FlaskClient

from api.backends import backends
from ingest.publisher import FakeEventPublisher
from tests.unit.conftest import assert_error, event


def test_single_event_is_published_and_counted(
    client: FlaskClient, publisher: FakeEventPublisher
) -> None:
    response = client.post("/v1/events", json=event("u1", "a1"))
    assert response.status_code == 202
    assert response.get_json() == {"accepted": 1}
    assert [(e.user_id, e.item_id, e.event_type) for e in publisher.events] == [
        ("u1", "a1", "watch")
    ]


def test_batch_is_published_in_order(client: FlaskClient, publisher: FakeEventPublisher) -> None:
    batch = [event("u1", "a1"), event("u2", "b2", "like"), event("u1", "a3", "skip")]
    response = client.post("/v1/events", json={"events": batch})
    assert response.status_code == 202
    assert response.get_json() == {"accepted": 3}
    assert [e.event_id for e in publisher.events] == [data["event_id"] for data in batch]


def test_batch_with_one_bad_event_publishes_nothing(
    client: FlaskClient, publisher: FakeEventPublisher
) -> None:
    bad = event("u2", "a2", event_type="binge")
    response = client.post("/v1/events", json={"events": [event("u1", "a1"), bad]})
    assert response.status_code == 400
    error = assert_error(response.get_json(), "invalid_event")
    assert [d["field"] for d in error["details"]] == ["events[1].event_type"]
    assert publisher.events == []


def test_every_bad_event_of_a_batch_is_reported(client: FlaskClient) -> None:
    no_user = {key: value for key, value in event("u1", "a1").items() if key != "user_id"}
    batch = [no_user, event("u2", "a2"), "not an object"]
    response = client.post("/v1/events", json={"events": batch})
    error = assert_error(response.get_json(), "invalid_event")
    assert [d["field"] for d in error["details"]] == ["events[0].user_id", "events[2]"]


def test_single_bad_event_names_plain_fields(client: FlaskClient) -> None:
    response = client.post("/v1/events", json=event("", "a1") | {"timestamp": "yesterday"})
    assert response.status_code == 400
    error = assert_error(response.get_json(), "invalid_event")
    assert sorted(d["field"] for d in error["details"]) == ["timestamp", "user_id"]


def test_non_json_body_is_415(client: FlaskClient, publisher: FakeEventPublisher) -> None:
    response = client.post("/v1/events", data="user_id=u1", content_type="text/plain")
    assert response.status_code == 415
    assert_error(response.get_json(), "unsupported_media_type")
    assert publisher.events == []


def test_malformed_json_is_400_naming_body(client: FlaskClient) -> None:
    for raw in ['{"user_id": "u1",', "", '{"watch_seconds": NaN}']:
        response = client.post("/v1/events", data=raw, content_type="application/json")
        assert response.status_code == 400, raw
        error = assert_error(response.get_json(), "invalid_request")
        assert error["details"][0]["field"] == "body"


def test_json_that_is_not_an_object_is_400_naming_body(client: FlaskClient) -> None:
    response = client.post("/v1/events", json=[event("u1", "a1")])
    assert response.status_code == 400
    error = assert_error(response.get_json(), "invalid_event")
    assert error["details"] == [{"field": "body", "message": "must be a JSON object"}]


def test_body_over_one_mebibyte_is_413(client: FlaskClient, publisher: FakeEventPublisher) -> None:
    padding = "x" * (1024 * 1024)
    body = json.dumps(event("u1", "a1") | {"padding": padding})
    response = client.post("/v1/events", data=body, content_type="application/json")
    assert response.status_code == 413
    assert_error(response.get_json(), "request_entity_too_large")
    assert publisher.events == []


def test_empty_batch_is_400_naming_events(client: FlaskClient) -> None:
    response = client.post("/v1/events", json={"events": []})
    assert response.status_code == 400
    error = assert_error(response.get_json(), "invalid_request")
    assert error["details"][0]["field"] == "events"


def test_batch_over_the_limit_is_400_naming_events(
    client: FlaskClient, publisher: FakeEventPublisher
) -> None:
    batch = [event("u1", "a1", n=n) for n in range(6)]  # the test settings allow 5
    response = client.post("/v1/events", json={"events": batch})
    assert response.status_code == 400
    error = assert_error(response.get_json(), "invalid_request")
    assert error["details"][0]["field"] == "events"
    assert "limit of 5" in error["message"]
    assert publisher.events == []


def test_events_that_is_not_a_list_is_400_naming_events(client: FlaskClient) -> None:
    response = client.post("/v1/events", json={"events": event("u1", "a1")})
    assert response.status_code == 400
    assert assert_error(response.get_json(), "invalid_request")["details"][0]["field"] == "events"


def test_kafka_unavailable_is_503_with_retry_after(
    client: FlaskClient, publisher: FakeEventPublisher
) -> None:
    publisher.fail = True
    response = client.post("/v1/events", json=event("u1", "a1"))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert_error(response.get_json(), "unavailable")


def test_after_a_kafka_failure_events_fail_fast_for_a_while(
    client: FlaskClient, publisher: FakeEventPublisher
) -> None:
    publisher.fail = True
    assert client.post("/v1/events", json=event("u1", "a1")).status_code == 503
    publisher.fail = False  # Kafka is back, but the API does not ask it again at once
    response = client.post("/v1/events", json=event("u1", "a2"))
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert publisher.events == []
    backends(client.application).kafka_outage.clear()
    assert client.post("/v1/events", json=event("u1", "a3")).status_code == 202
    assert [e.item_id for e in publisher.events] == ["a3"]
