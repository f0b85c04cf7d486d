"""The streamrec REST API: ``create_app`` builds a Flask app; nothing connects until needed."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import PathConverter

from api import demo, docs, events, health, items, metrics, model_admin, recommendations
from api.backends import EXTENSION_KEY, Backends
from api.cors import install_cors
from api.errors import register_error_handlers
from api.guards import install_guards
from api.jsonio import FastJSONProvider
from api.observability import install_observability
from ingest.publisher import EventPublisher
from ingest.settings import Settings, load_settings
from recommender.admin import ModelAdmin
from recommender.artifacts import ModelSource
from stream.store import FeatureStore

MAX_BODY_BYTES = 1024 * 1024


class AnyCharacterPathConverter(PathConverter):
    """werkzeug's ``path`` converter, but matching line breaks too (its ``.`` does not)."""

    regex = r"[^/][\s\S]*?"


def create_app(
    settings: Settings | None = None,
    *,
    store: FeatureStore | None = None,
    publisher: EventPublisher | None = None,
    models: ModelSource | None = None,
    admin: ModelAdmin | None = None,
) -> Flask:
    """Create the API app; backends not given are built from settings on first use, per process."""
    settings = settings if settings is not None else load_settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json = FastJSONProvider(app)  # orjson; fields in the documented order
    # Before the routes: ids in paths may hold any character (a decoded %0A too), so that the
    # id checks answer 400 naming the field, not the router 404.
    app.url_map.converters["path"] = AnyCharacterPathConverter
    app.extensions[EXTENSION_KEY] = Backends(
        settings, store=store, publisher=publisher, models=models, admin=admin
    )
    # Hooks run in this order: request id and timing first, so every answer carries both.
    install_observability(app, settings.access_log)
    install_cors(app, settings.cors_origins)
    install_guards(app, settings)
    register_error_handlers(app)
    for blueprint in (
        events.bp,
        recommendations.bp,
        model_admin.bp,
        health.bp,
        metrics.bp,
        docs.bp,
        items.bp,
        demo.bp,
    ):
        app.register_blueprint(blueprint)
    return app
