"""GET /v1/model and the admin endpoints: API key, retrain (202/409) and rollback (200/404)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr

from api import create_app
from ingest.publisher import FakeEventPublisher
from ingest.settings import Settings
from recommender.admin import ModelAdmin
from recommender.artifacts import DirectoryModelSource, save_model
from recommender.model import Model
from stream.store import InMemoryFeatureStore
from tests.unit.conftest import assert_error

KEY = "k3y-for-unit-tests-0123456789"


def admin_app(
    settings: Settings, store: InMemoryFeatureStore, lock: threading.Lock, key: str | None = KEY
) -> tuple[Flask, ModelAdmin]:
    secret = SecretStr(key) if key else None
    configured = settings.model_copy(update={"admin_api_key": secret, "model_check_seconds": 0})
    models = DirectoryModelSource(configured.model_dir, 0)
    admin = ModelAdmin(configured, store, models, lock)
    app = create_app(
        configured, store=store, publisher=FakeEventPublisher(), models=models, admin=admin
    )
    return app, admin


@pytest.fixture
def lock() -> threading.Lock:
    return threading.Lock()


@pytest.fixture
def admin_client(
    settings: Settings, store: InMemoryFeatureStore, lock: threading.Lock
) -> tuple[FlaskClient, ModelAdmin]:
    app, admin = admin_app(settings, store, lock)
    return app.test_client(), admin


def publish(model: Model, settings: Settings, version: str) -> None:
    metadata = model.metadata | {"version": version}
    save_model(Model(version, model.item_ids, model.item_factors, metadata), settings.model_dir, 5)


def test_model_is_described_once_published(
    admin_client: tuple[FlaskClient, ModelAdmin], settings: Settings, tiny_model: Model
) -> None:
    client, _ = admin_client
    response = client.get("/v1/model")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert_error(response.get_json(), "model_not_ready")
    publish(tiny_model, settings, "20260101T000000Z-aaaaaa")
    body = client.get("/v1/model").get_json()
    assert body["version"] == "20260101T000000Z-aaaaaa"
    assert body["params"]["factors"] == 4 and "popular_items" not in body


@pytest.mark.parametrize("path", ["/v1/admin/retrain", "/v1/admin/rollback"])
def test_admin_is_disabled_without_a_key_setting(
    settings: Settings, store: InMemoryFeatureStore, lock: threading.Lock, path: str
) -> None:
    app, _ = admin_app(settings, store, lock, key=None)
    response = app.test_client().post(path, headers={"X-API-Key": "anything-at-all-here"})
    assert response.status_code == 403
    assert "STREAMREC_ADMIN_API_KEY" in assert_error(response.get_json(), "forbidden")["message"]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY + "x"}])
@pytest.mark.parametrize("path", ["/v1/admin/retrain", "/v1/admin/rollback"])
def test_a_missing_or_wrong_key_is_401(
    admin_client: tuple[FlaskClient, ModelAdmin], path: str, headers: dict[str, str]
) -> None:
    client, _ = admin_client
    response = client.post(path, headers=headers)
    assert response.status_code == 401
    assert_error(response.get_json(), "unauthorized")


def test_retrain_starts_once_then_conflicts(
    admin_client: tuple[FlaskClient, ModelAdmin], settings: Settings, lock: threading.Lock
) -> None:
    client, admin = admin_client
    lock.acquire()  # as if another process were training
    response = client.post("/v1/admin/retrain", headers={"X-API-Key": KEY})
    assert response.status_code == 409
    assert_error(response.get_json(), "conflict")
    lock.release()
    response = client.post("/v1/admin/retrain", headers={"X-API-Key": KEY})
    assert response.status_code == 202
    assert response.get_json() == {"status": "started"}
    admin.wait(60)
    assert client.get("/v1/model").status_code == 200  # the retrain published a model


def test_rollback_serves_the_previous_version(
    admin_client: tuple[FlaskClient, ModelAdmin], settings: Settings, tiny_model: Model
) -> None:
    client, _ = admin_client
    response = client.post("/v1/admin/rollback", headers={"X-API-Key": KEY})
    assert response.status_code == 404
    assert_error(response.get_json(), "not_found")
    publish(tiny_model, settings, "20260101T000000Z-aaaaaa")
    publish(tiny_model, settings, "20260102T000000Z-bbbbbb")
    response = client.post("/v1/admin/rollback", headers={"X-API-Key": KEY})
    assert response.status_code == 200
    assert response.get_json() == {
        "model_version": "20260101T000000Z-aaaaaa",
        "previous": "20260102T000000Z-bbbbbb",
    }
    assert client.get("/v1/model").get_json()["version"] == "20260101T000000Z-aaaaaa"


def test_admin_attempts_are_rate_limited(
    admin_client: tuple[FlaskClient, ModelAdmin], settings: Settings
) -> None:
    client, _ = admin_client
    statuses = [
        client.post("/v1/admin/rollback", headers={"X-API-Key": f"guess-{n}"}).status_code
        for n in range(settings.admin_attempts_per_minute + 1)
    ]
    assert statuses[:-1] == [401] * settings.admin_attempts_per_minute
    response = client.post("/v1/admin/rollback", headers={"X-API-Key": KEY})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert_error(response.get_json(), "too_many_requests")


def test_the_key_is_never_logged(
    admin_client: tuple[FlaskClient, ModelAdmin],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, _ = admin_client
    caplog.set_level("DEBUG")
    client.post("/v1/admin/rollback", headers={"X-API-Key": KEY})
    client.post("/v1/admin/rollback", headers={"X-API-Key": "wrong-" + KEY})
    out, err = capsys.readouterr()
    assert KEY not in caplog.text + out + err
    assert KEY not in repr(client.application.extensions)


def test_a_short_admin_key_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="16"):
        Settings(admin_api_key="short", model_dir=tmp_path)
