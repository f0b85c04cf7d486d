"""schemathesis against /openapi.json on in-memory backends: no 5xx, nothing off the document."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis import checks

from api import create_app
from api.docs import API_VERSION
from api.openapi import build_document
from api.spec import OPERATIONS
from ingest.publisher import FakeEventPublisher
from ingest.settings import Settings
from recommender.admin import ModelAdmin
from recommender.artifacts import StaticModelSource
from recommender.model import Model
from tests.unit.conftest import tiny_store

KEY = "fuzzing-admin-key-0123456789"
MAX_BATCH_EVENTS = 20
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture
def fuzzed_app(tmp_path: Path, tiny_model: Model) -> Flask:
    """The API on in-memory backends, admin enabled, a catalogue with two categories."""
    catalogue = tmp_path / "items.csv"
    catalogue.write_text(
        "".join(f"{i},{i},{'Alpha' if i < 'b' else 'Beta'}\n" for i in ["a1", "b1"])
    )
    configured = Settings(
        model_dir=tmp_path / "models",
        catalogue_path=catalogue,
        admin_api_key=SecretStr(KEY),
        access_log=False,
        max_batch_events=MAX_BATCH_EVENTS,
    )
    store, models = tiny_store(), StaticModelSource(tiny_model)
    admin = ModelAdmin(configured, store, models, threading.Lock())
    return create_app(
        configured, store=store, publisher=FakeEventPublisher(), models=models, admin=admin
    )


# The document the app serves, built by the same function (a lazy fixture-loaded schema needs a
# pytest internal that pytest 9.2 dropped); each case is sent to the fixture's app in-process.
schema = schemathesis.openapi.from_dict(build_document(OPERATIONS, MAX_BATCH_EVENTS, API_VERSION))
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_by_its_document(case: schemathesis.Case, fuzzed_app: Flask) -> None:
    assert fuzzed_app.test_client().get("/openapi.json").get_json() == schema.raw_schema
    case.call_and_validate(checks=CHECKS, app=fuzzed_app)
    if case.operation.path.startswith("/v1/admin/"):
        case.call_and_validate(checks=CHECKS, app=fuzzed_app, headers={"X-API-Key": KEY})
