"""/healthz, /readyz and the error shape of routing errors and unexpected failures."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from api import create_app
from ingest.errors import Unavailable
from ingest.publisher import FakeEventPublisher
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.model import Model
from stream.store import InMemoryFeatureStore
from tests.unit.conftest import assert_error


class PingablePublisher(FakeEventPublisher):
    """A fake that can tell whether "its broker" answers, as EventPublisher.ping would."""

    def ping(self) -> None:
        """Raise Unavailable when told to fail."""
        if self.fail:
            raise Unavailable("Kafka is unavailable (fake)")


class DownStore(InMemoryFeatureStore):
    """A store whose server does not answer."""

    def ping(self) -> None:
        """Always fail, like an unreachable Redis."""
        raise ConnectionError("Error 111 connecting to 127.0.0.1:16379. Connection refused.")

    def user_items(self, user_id: str) -> dict[str, float]:
        """Fail with an error the API does not expect."""
        raise RuntimeError("secret internals")


def test_healthz_answers_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_every_check(client: FlaskClient, tiny_model: Model) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"kafka": "ok", "redis": "ok", "model": tiny_model.version},
    }


def test_readyz_without_a_model_is_503_naming_model(
    settings: Settings, store: InMemoryFeatureStore
) -> None:
    app = create_app(
        settings, store=store, publisher=FakeEventPublisher(), models=StaticModelSource(None)
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    body = response.get_json()
    assert body["status"] == "not_ready"
    assert body["checks"] == {"kafka": "ok", "redis": "ok", "model": "missing"}
    error = assert_error(body, "not_ready")
    assert [d["check"] for d in error["details"]] == ["model"]
    assert "model" in error["message"]


def test_readyz_names_every_backend_that_is_down(settings: Settings, tiny_model: Model) -> None:
    publisher = PingablePublisher()
    publisher.fail = True
    app = create_app(
        settings, store=DownStore(), publisher=publisher, models=StaticModelSource(tiny_model)
    )
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"] == {
        "kafka": "unavailable",
        "redis": "unavailable",
        "model": tiny_model.version,
    }
    error = assert_error(body, "not_ready")
    assert [d["check"] for d in error["details"]] == ["kafka", "redis"]
    assert "Connection refused" in error["details"][1]["message"]


def test_unknown_route_is_404_in_the_error_shape(client: FlaskClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert_error(response.get_json(), "not_found")


def test_wrong_method_is_405_in_the_error_shape(client: FlaskClient) -> None:
    response = client.get("/v1/events")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert_error(response.get_json(), "method_not_allowed")


def test_unexpected_error_is_500_without_internals(
    settings: Settings, tiny_model: Model, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(
        settings,
        store=DownStore(),
        publisher=FakeEventPublisher(),
        models=StaticModelSource(tiny_model),
    )
    response = app.test_client().get("/v1/users/u1/recommendations")
    assert response.status_code == 500
    error = assert_error(response.get_json(), "internal_error")
    assert error["message"] == "internal server error"
    assert "secret" not in response.get_data(as_text=True)
    logged = [r for r in caplog.records if r.exc_info and "secret internals" in str(r.exc_info[1])]
    assert logged, "the traceback must be logged"
