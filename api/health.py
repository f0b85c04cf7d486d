"""``/healthz`` (the process is alive) and ``/readyz`` (Kafka, Redis and a model are usable)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, jsonify

from api.backends import backends
from api.errors import RETRY_AFTER_SECONDS
from api.probes import check_kafka, check_model, check_redis
from ingest.errors import ModelNotReady

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Answer that the process is alive (checks nothing else)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Check Kafka, Redis and the model; answer 503 naming every check that failed."""
    deps = backends()
    checks, failures = run_checks(
        {
            "kafka": lambda: check_kafka(deps.publisher.peek(), deps.kafka_probe),
            "redis": lambda: check_redis(deps.store.get()),
            "model": lambda: check_model(deps.models.get()),
        }
    )
    if not failures:
        return jsonify(status="ready", checks=checks), 200
    names = ", ".join(failure["check"] for failure in failures)
    error = {"code": "not_ready", "message": f"not ready: {names}", "details": failures}
    response = jsonify(status="not_ready", checks=checks, error=error)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, 503


def run_checks(
    checks: dict[str, Callable[[], str]],
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Run every check; return name -> status and the failures as ``{"check", "message"}``."""
    statuses: dict[str, str] = {}
    failures: list[dict[str, str]] = []
    for name, check in checks.items():
        try:
            statuses[name] = check()
        except Exception as exc:  # any failure means "not ready"; say which and why
            statuses[name] = "missing" if isinstance(exc, ModelNotReady) else "unavailable"
            failures.append({"check": name, "message": _describe(exc)})
            log.warning("readiness check %s failed: %s", name, _describe(exc))
    return statuses, failures


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}"
