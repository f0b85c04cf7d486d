"""Shared unit-test fixtures: an API app on in-memory backends and a tiny trained model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from ingest.publisher import FakeEventPublisher
from ingest.schema import validate_event
from ingest.settings import Settings
from recommender.artifacts import StaticModelSource
from recommender.matrix import build_user_items
from recommender.model import Model
from recommender.train import train_model
from stream.features import feature_update
from stream.store import InMemoryFeatureStore

# Two tastes: users u0..u5 watch the "a" items, users u6..u11 the "b" items.
A_ITEMS = ["a1", "a2", "a3", "a4"]
B_ITEMS = ["b1", "b2", "b3", "b4"]
TIMESTAMP_MS = 1_764_000_000_000


def event(user_id: str, item_id: str, event_type: str = "watch", n: int = 0) -> dict[str, Any]:
    """Return a valid watch event as the JSON object a client would send."""
    return {
        "event_id": f"{user_id}-{item_id}-{n}",
        "user_id": user_id,
        "item_id": item_id,
        "event_type": event_type,
        "timestamp": TIMESTAMP_MS + n,
    }


def fill_tiny(store: InMemoryFeatureStore) -> InMemoryFeatureStore:
    """Apply the two-taste history to a store (b1 is the most popular item); return it."""
    events = [event(f"u{u}", item) for u in range(6) for item in A_ITEMS]
    events += [event(f"u{u}", item) for u in range(6, 12) for item in B_ITEMS]
    events += [event(f"u{u}", "b1", "like", 1) for u in range(6, 12)]
    store.apply([feature_update(validate_event(data)) for data in events])
    return store


def tiny_store() -> InMemoryFeatureStore:
    """Return a store holding the two-taste history (b1 is the most popular item)."""
    return fill_tiny(InMemoryFeatureStore())


@pytest.fixture(scope="session")
def tiny_model() -> Model:
    """Train one small ALS model on the two-taste history (once per session)."""
    settings = Settings(
        als_factors=4, als_iterations=20, als_regularization=0.05, als_alpha=2.0, random_seed=7
    )
    return train_model(build_user_items(tiny_store().iter_user_items()), settings)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Return settings pointing at nothing real (unit tests never connect)."""
    return Settings(model_dir=tmp_path / "models", max_batch_events=5)


@pytest.fixture
def store() -> InMemoryFeatureStore:
    """Return a fresh store with the two-taste history."""
    return tiny_store()


@pytest.fixture
def publisher() -> FakeEventPublisher:
    """Return a publisher that keeps what it is given."""
    return FakeEventPublisher()


@pytest.fixture
def models(tiny_model: Model) -> StaticModelSource:
    """Return a model source serving the tiny model."""
    return StaticModelSource(tiny_model)


@pytest.fixture
def app(
    settings: Settings,
    store: InMemoryFeatureStore,
    publisher: FakeEventPublisher,
    models: StaticModelSource,
) -> Iterator[Flask]:
    """Create the API app on in-memory backends."""
    app = create_app(settings, store=store, publisher=publisher, models=models)
    app.config["TESTING"] = True
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client of the app."""
    return app.test_client()


def assert_error(body: Any, code: str) -> dict[str, Any]:
    """Check the one error shape and the code; return the error object."""
    assert set(body) >= {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)
