"""The API against the real Redis and Kafka: degraded answers when Redis is down or hangs,
503 (never 202) when Kafka cannot take events, and 202 only for events really on the topic."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from kafka import KafkaConsumer

from api import create_app
from api.backends import backends
from ingest.schema import validate_event
from ingest.settings import Settings
from ingest.topics import ensure_topics
from recommender.artifacts import save_model
from recommender.matrix import build_user_items
from recommender.model import Model
from recommender.train import train_model
from stream.features import feature_update
from stream.redis_store import redis_feature_store
from tests.unit.conftest import event, tiny_store

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def model(settings: Settings) -> Model:
    """Train the tiny two-taste model and publish it to this test's model dir."""
    small = settings.model_copy(
        update={
            "als_factors": 4,
            "als_iterations": 10,
            "als_regularization": 0.05,
            "als_alpha": 2.0,
        }
    )
    trained = train_model(build_user_items(tiny_store().iter_user_items()), small)
    save_model(trained, settings.model_dir, keep=2)
    return trained


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def api(settings: Settings, **changes: object) -> Flask:
    return create_app(settings.model_copy(update={"access_log": False, **changes}))


def test_recommendations_use_redis_features(
    settings: Settings, model: Model, redis_client: redis.Redis
) -> None:
    store = redis_feature_store(settings)
    store.apply([feature_update(validate_event(event("fan", item))) for item in ("a1", "a2")])
    body = api(settings).test_client().get("/v1/users/fan/recommendations?k=2").get_json()
    assert body["degraded"] is False and body["source"] == "model"
    assert {item["item_id"] for item in body["items"]} == {"a3", "a4"}
    history = api(settings).test_client().get("/v1/users/fan/history").get_json()
    assert {e["item_id"] for e in history["events"]} == {"a1", "a2"}


def test_each_thread_reads_redis_over_a_connection_of_its_own(
    settings: Settings, model: Model, redis_client: redis.Redis
) -> None:
    deps = backends(api(settings))
    clients: list[redis.Redis] = []

    def recommend() -> None:
        service = deps.service.get()
        service.recommend("u0", 2)
        clients.append(service.store.client)  # type: ignore[attr-defined]

    threads = [threading.Thread(target=recommend) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections = {id(client.connection) for client in clients if client.connection is not None}
    assert len(connections) == 3  # each kept by its thread, not taken from a shared pool


@pytest.mark.parametrize("hung", [False, True], ids=["refused", "hung"])
def test_redis_down_or_hung_answers_degraded_within_the_timeout(
    settings: Settings, model: Model, silent_server: int, hung: bool
) -> None:
    port = silent_server if hung else free_port()
    app = api(settings, redis_url=f"redis://127.0.0.1:{port}/0", api_redis_timeout_seconds=0.2)
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/v1/users/u0/recommendations?k=3")
    first = time.monotonic() - started
    assert response.status_code == 200
    body = response.get_json()
    assert body["degraded"] is True and body["model_version"] == model.version
    assert [i["item_id"] for i in body["items"]] == [i for i, _ in model.popular_items(3)]
    assert first < 1.5  # bounded by the API's Redis timeout, not the worker's 2 s
    started = time.monotonic()
    for _ in range(20):
        assert client.get("/v1/trending?k=2").get_json()["degraded"] is True
    assert time.monotonic() - started < 1.0  # later requests do not wait on Redis again
    assert client.get("/v1/users/u0/history").status_code == 503
    assert client.get("/readyz").status_code == 503


def test_kafka_down_is_503_quickly_and_nothing_is_accepted(settings: Settings) -> None:
    app = api(
        settings,
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_request_timeout_seconds=1.0,
    )
    started = time.monotonic()
    response = app.test_client().post("/v1/events", json=event("u1", "a1"))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"]["code"] == "unavailable"
    assert time.monotonic() - started < 10


def test_accepted_events_are_on_the_topic(settings: Settings) -> None:
    ensure_topics(settings)
    app = api(settings)
    client = app.test_client()
    batch = [event("u1", "a1", n=n) for n in range(3)]
    response = client.post("/v1/events", json={"events": batch})
    assert response.status_code == 202 and response.get_json() == {"accepted": 3}
    consumer = KafkaConsumer(
        settings.events_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    try:
        records = [json.loads(record.value) for _, record in zip(range(3), consumer, strict=False)]
    finally:
        consumer.close()
        backends(app).close()
    assert sorted(r["event_id"] for r in records) == sorted(e["event_id"] for e in batch)
    assert all(record["user_id"] == "u1" for record in records)
