"""``POST /v1/events``: validate watch events and publish them to Kafka."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import UnsupportedMediaType

from api.backends import backends
from api.validation import events_from_body, parse_json_body
from ingest.errors import Unavailable

bp = Blueprint("events", __name__, url_prefix="/v1")


@bp.post("/events")
def publish_events() -> tuple[Response, int]:
    """Validate one event or a batch and publish all of it, or none of it if any is invalid."""
    if not request.is_json:
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
    # get_data enforces MAX_CONTENT_LENGTH (413) before the body is read into memory.
    body = parse_json_body(request.get_data(cache=False))
    deps = backends()
    events = events_from_body(body, deps.settings.max_batch_events)
    if deps.kafka_outage.active():
        raise Unavailable("Kafka is unavailable; no event was accepted")
    try:
        deps.publisher.get().publish(events)
    except Unavailable as exc:
        deps.kafka_outage.record(exc)
        raise
    deps.kafka_outage.clear()
    return jsonify(accepted=len(events)), 202
