"""The one error hierarchy of streamrec; the API maps each class to an HTTP status."""

from __future__ import annotations

from typing import Any


class StreamrecError(Exception):
    """Base of every error streamrec raises on purpose."""

    code = "internal_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigError(StreamrecError):
    """Settings are missing, unknown or invalid."""

    code = "invalid_config"


class InvalidEvent(StreamrecError):
    """An event does not match the contract; ``details`` lists ``{"field", "message"}``."""

    code = "invalid_event"


class InvalidRequest(StreamrecError):
    """An HTTP request parameter or body is malformed."""

    code = "invalid_request"


class NotFound(StreamrecError):
    """The user, item or model asked for does not exist."""

    code = "not_found"


class Unavailable(StreamrecError):
    """A backing service (Kafka, Redis, a model) cannot serve right now."""

    code = "unavailable"


class ModelNotReady(Unavailable):
    """No trained model has been published yet."""

    code = "model_not_ready"


class Conflict(StreamrecError):
    """The request conflicts with work in progress (e.g. a training is already running)."""

    code = "conflict"
