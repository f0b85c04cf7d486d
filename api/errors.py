"""The one place that turns exceptions into HTTP answers in the one JSON error shape."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify, request
from redis import RedisError
from werkzeug.exceptions import HTTPException

from ingest.errors import (
    Conflict,
    InvalidEvent,
    InvalidRequest,
    NotFound,
    StreamrecError,
    Unavailable,
)

# Checked in order, so a subclass listed later never shadows its base (ModelNotReady is an
# Unavailable). Any StreamrecError not listed here is a server bug: 500.
STATUS_BY_ERROR: tuple[tuple[type[StreamrecError], int], ...] = (
    (InvalidEvent, 400),
    (InvalidRequest, 400),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
)
RETRY_AFTER_SECONDS = 5

log = logging.getLogger(__name__)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """Build the JSON error answer every endpoint uses."""
    response = jsonify(error={"code": code, "message": message, "details": details})
    response.status_code = status
    for name, value in headers or []:
        response.headers[name] = value
    if status == 503:
        response.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return response


def handle_streamrec_error(exc: StreamrecError) -> Response:
    """Answer a deliberate error with the status its class maps to."""
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(exc, error_class):
            if status >= 500:
                log.warning("%s %s: %s: %s", request.method, request.path, exc.code, exc.message)
            return error_response(status, exc.code, exc.message, exc.details)
    return handle_unexpected_error(exc)


def handle_http_error(exc: HTTPException) -> Response:
    """Answer a werkzeug HTTP error (404, 405, 413, 415, ...) with its status, as JSON."""
    status = exc.code or 500
    code = _snake_case(exc.name) if exc.code else "internal_error"
    headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
    return error_response(status, code, exc.description or exc.name, None, headers)


def handle_unexpected_error(exc: Exception) -> Response:
    """Log the traceback and answer 500 without revealing anything about it."""
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def _snake_case(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def handle_redis_error(exc: RedisError) -> Response:
    """Answer 503 when Redis cannot be reached (a retryable outage, not a bug)."""
    log.warning("%s %s: Redis unavailable: %s", request.method, request.path, exc)
    return error_response(503, Unavailable.code, "the feature store (Redis) is unavailable")


def register_error_handlers(app: Flask) -> None:
    """Make every error of ``app`` answer in the one JSON shape."""
    app.register_error_handler(StreamrecError, handle_streamrec_error)
    app.register_error_handler(RedisError, handle_redis_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
