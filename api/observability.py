"""Per-request bookkeeping: the request id, one JSON access-log line and the request metrics."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, request

from api.metrics import get_metrics

REQUEST_ID_HEADER = "X-Request-ID"
# What a caller's request id may look like; anything else is replaced (it goes into logs).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
ACCESS_LOGGER = "streamrec.access"
MAX_LOGGED_QUERY = 512


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and its extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, ensure_ascii=False, default=str)


def access_logger() -> logging.Logger:
    """Return the access logger, writing JSON lines to stderr (configured once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def request_id() -> str:
    """Return the current request's id."""
    return str(g.get("request_id", "-"))


def install_observability(app: Flask, log_access: bool) -> None:
    """Give every request an id, time it into the metrics and, if asked, log it as JSON."""
    metrics = get_metrics()
    logger = access_logger() if log_access else None

    @app.before_request
    def start_request() -> None:
        g.started = time.perf_counter()
        given = request.headers.get(REQUEST_ID_HEADER)
        valid = given is not None and _REQUEST_ID.fullmatch(given)
        g.request_id = given if valid else uuid.uuid4().hex

    @app.after_request
    def finish_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.observe_request(request.method, route, response.status_code, seconds)
        if logger is not None:
            logger.info("request", extra={"fields": _access_fields(response, route, seconds)})
        return response


def _access_fields(response: Response, route: str, seconds: float) -> dict[str, object]:
    query = request.query_string.decode("latin-1")
    return {
        "request_id": request_id(),
        "method": request.method,
        "path": request.path,
        "query": query[:MAX_LOGGED_QUERY],
        "route": route,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 3),
        "bytes": response.calculate_content_length(),
        "remote_addr": request.remote_addr,
    }
