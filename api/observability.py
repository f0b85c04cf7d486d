"""Per-request bookkeeping: the request id, one JSON access-log line and the request metrics."""

from __future__ import annotations

import logging
import random
import re
import sys
import time
from typing import TextIO

from flask import Flask, Request, Response, g, request

from api import jsonio
from api.metrics import get_metrics
from recommender.clock import format_epoch

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # the header as the WSGI server hands it over
# What a caller's request id may look like; anything else is replaced (it goes into logs).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
ACCESS_LOGGER = "streamrec.access"
MAX_LOGGED_QUERY = 512


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and its extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        fields = getattr(record, "fields", {})
        return json_line(record.created, record.levelname, record.name, record.getMessage(), fields)


def json_line(
    created: float, level: str, logger: str, message: str, fields: dict[str, object]
) -> str:
    """Return a JSON log line: time (``created``, epoch seconds), level, logger, message, fields."""
    entry: dict[str, object] = {
        "time": format_epoch(created),
        "level": level,
        "logger": logger,
        "message": message,
    }
    entry.update(fields)
    return jsonio.dumps(entry, str).decode("utf-8")


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


class AccessLog:
    """Logs one JSON line per request through the access logger, or straight to its stream.

    While the logger is as ``access_logger`` configured it (one stream handler with the JSON
    formatter, no filters, INFO enabled, not propagating), the line that handler would write is
    written to its stream here, under its lock: the same line without building a LogRecord and
    dispatching it, ~0.04 ms less CPU per answer (measured in-process). Configured any other way
    (another handler, a filter, a level), lines go through ``logging`` as usual.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._handler: logging.StreamHandler[TextIO] | None = None
        self._formatter: logging.Formatter | None = None
        only = logger.handlers[0] if len(logger.handlers) == 1 else None
        if isinstance(only, logging.StreamHandler) and isinstance(only.formatter, JsonFormatter):
            self._handler, self._formatter = only, only.formatter

    def write(self, fields: dict[str, object]) -> None:
        """Log one request (``fields``: what the line tells besides time, level and logger)."""
        handler = self._handler
        if handler is None or not self._as_configured(handler):
            self.logger.info("request", extra={"fields": fields})
            return
        line = json_line(time.time(), "INFO", self.logger.name, "request", fields)
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        except Exception:  # as StreamHandler.emit: report it (stderr), do not fail the request
            record = self.logger.makeRecord(
                self.logger.name, logging.INFO, "", 0, "request", (), None, extra={"fields": fields}
            )
            handler.handleError(record)
        finally:
            handler.release()

    def _as_configured(self, handler: logging.StreamHandler[TextIO]) -> bool:
        logger = self.logger
        handlers = logger.handlers
        return (
            len(handlers) == 1
            and handlers[0] is handler
            and handler.formatter is self._formatter
            and handler.level <= logging.INFO
            and not handler.filters
            and not logger.filters
            and not logger.propagate
            and logger.isEnabledFor(logging.INFO)
        )


def new_request_id() -> str:
    """Return a new request id: 128 random bits as 32 hex digits.

    From ``random``'s generator (reseeded in every forked worker by CPython), not ``uuid4``'s
    system call per request (~0.01 ms of CPU per answer here). An id only has to be unique;
    it grants nothing, so it need not be unpredictable.
    """
    return f"{random.getrandbits(128):032x}"


def request_id() -> str:
    """Return the current request's id."""
    return str(g.get("request_id", "-"))


def install_observability(app: Flask, log_access: bool) -> None:
    """Give every request an id, time it into the metrics and, if asked, log it as JSON."""
    metrics = get_metrics()
    access_log = AccessLog(access_logger()) if log_access else None

    @app.before_request
    def start_request() -> None:
        g.started = time.perf_counter()
        # Read from the WSGI environ: for an id the pattern accepts (ASCII) the same value as
        # ``request.headers`` gives, without building the headers view.
        given = request.environ.get(_REQUEST_ID_ENVIRON)
        valid = given is not None and _REQUEST_ID.fullmatch(given)
        g.request_id = given if valid else new_request_id()

    @app.after_request
    def finish_request(response: Response) -> Response:
        now = time.perf_counter()
        current: Request = request._get_current_object()  # type: ignore[attr-defined]
        ident = request_id()
        response.headers[REQUEST_ID_HEADER] = ident
        seconds = now - g.get("started", now)
        rule = current.url_rule
        route = rule.rule if rule is not None else "unmatched"
        metrics.observe_request(current.method, route, response.status_code, seconds)
        if access_log is not None:
            access_log.write(_access_fields(current, response, ident, route, seconds))
        return response


def _access_fields(
    current: Request, response: Response, ident: str, route: str, seconds: float
) -> dict[str, object]:
    query = current.query_string.decode("latin-1")
    return {
        "request_id": ident,
        "method": current.method,
        "path": current.path,
        "query": query[:MAX_LOGGED_QUERY],
        "route": route,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 3),
        "bytes": response.calculate_content_length(),
        "remote_addr": current.remote_addr,
    }
