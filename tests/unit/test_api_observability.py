"""Request ids, JSON access logs and the Prometheus metrics."""

from __future__ import annotations

import io
import json
import logging
import os
import re

import pytest
from flask.testing import FlaskClient

from api.observability import ACCESS_LOGGER, AccessLog, JsonFormatter, new_request_id


def test_a_request_id_is_returned_or_made_up(client: FlaskClient) -> None:
    given = client.get("/v1/trending", headers={"X-Request-ID": "abc-123.x:y"})
    assert given.headers["X-Request-ID"] == "abc-123.x:y"
    made = client.get("/v1/trending")
    assert len(made.headers["X-Request-ID"]) == 32
    unsafe = client.get("/v1/trending", headers={"X-Request-ID": "a b\u00e9" + "x" * 200})
    assert unsafe.headers["X-Request-ID"] != "a b\u00e9" + "x" * 200
    assert client.get("/nowhere").headers["X-Request-ID"]  # errors carry it too


def test_access_log_is_one_json_object_per_request(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    logging.getLogger(ACCESS_LOGGER).addHandler(caplog.handler)
    try:
        client.get("/v1/users/u0/recommendations?k=2", headers={"X-Request-ID": "req-1"})
    finally:
        logging.getLogger(ACCESS_LOGGER).removeHandler(caplog.handler)
    record = next(r for r in caplog.records if r.name == ACCESS_LOGGER)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-1"
    assert line["route"] == "/v1/users/<path:user_id>/recommendations"
    assert (line["method"], line["status"], line["query"]) == ("GET", 200, "k=2")
    assert line["duration_ms"] >= 0 and line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_metrics_count_answers_per_route_and_status(client: FlaskClient) -> None:
    client.get("/v1/users/u0/recommendations")
    client.get("/v1/items/nothing/similar")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    route = 'route="/v1/users/<path:user_id>/recommendations"'
    assert (
        f'streamrec_http_request_duration_seconds_bucket{{le="0.005",method="GET",{route}}}' in text
    )
    assert 'route="/v1/items/<path:item_id>/similar",status="404"' in text
    assert 'streamrec_recommend_duration_seconds_count{operation="recommend"}' in text
    assert "streamrec_model_info{version=" in text


def test_access_lines_written_directly_are_those_logging_writes() -> None:
    logger = logging.getLogger("streamrec.test.access")
    stream, other = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    access_log = AccessLog(logger)
    try:
        access_log.write({"request_id": "direct", "status": 200})  # to the stream, no LogRecord
        second = logging.StreamHandler(other)
        second.setFormatter(JsonFormatter())
        logger.addHandler(second)  # configured otherwise: through logging, to both handlers
        access_log.write({"request_id": "logged", "status": 200})
    finally:
        logger.handlers.clear()
    direct, logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert json.loads(other.getvalue()) == logged
    assert list(direct) == list(logged)  # the same fields in the same order
    assert (direct["request_id"], logged["request_id"]) == ("direct", "logged")
    assert {key: direct[key] for key in ("level", "logger", "message", "status")} == {
        "level": "INFO",
        "logger": "streamrec.test.access",
        "message": "request",
        "status": 200,
    }


def test_made_up_request_ids_are_hex_and_differ_across_forked_workers() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # as a gunicorn worker: forked from the master after it imported everything
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    childs = os.read(read, 64).decode()
    os.close(read)
    assert re.fullmatch(r"[0-9a-f]{32}", childs) and childs != new_request_id()
