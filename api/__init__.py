"""The streamrec REST API: ``create_app`` builds a Flask app; nothing connects until needed."""

from __future__ import annotations

from flask import Flask

from api import events, health, recommendations
from api.backends import EXTENSION_KEY, Backends
from api.errors import register_error_handlers
from ingest.publisher import EventPublisher
from ingest.settings import Settings, load_settings
from recommender.artifacts import ModelSource
from stream.store import FeatureStore

MAX_BODY_BYTES = 1024 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    store: FeatureStore | None = None,
    publisher: EventPublisher | None = None,
    models: ModelSource | None = None,
) -> Flask:
    """Create the API app; backends not given are built from settings on first use, per process."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[EXTENSION_KEY] = Backends(
        settings if settings is not None else load_settings(),
        store=store,
        publisher=publisher,
        models=models,
    )
    register_error_handlers(app)
    app.register_blueprint(events.bp)
    app.register_blueprint(recommendations.bp)
    app.register_blueprint(health.bp)
    return app
