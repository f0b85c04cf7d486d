"""JSON answers are encoded by orjson: the same JSON as before, compact and in the given order."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from flask import Flask, jsonify

from api.jsonio import dumps


def test_answers_are_compact_utf8_json_in_the_given_order(app: Flask) -> None:
    with app.app_context():
        response = jsonify(b=1, a=[0.1, "café", None, True])
    assert response.mimetype == "application/json"
    assert response.get_data() == '{"b":1,"a":[0.1,"café",null,true]}\n'.encode()


def test_what_orjson_refuses_is_encoded_by_the_stdlib_as_before(app: Flask) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with app.app_context():
        response = jsonify(big=2**70, when=moment, keys={1: "one"})
    # Over 64 bits for orjson; dates as HTTP dates (Flask's default); keys as strings.
    expected = {"big": 2**70, "when": "Fri, 02 Jan 2026 03:04:05 GMT", "keys": {"1": "one"}}
    assert json.loads(response.get_data()) == expected


def test_a_value_json_has_no_type_for_is_still_a_type_error(app: Flask) -> None:
    with app.app_context(), pytest.raises(TypeError):
        jsonify(value=object())
    with pytest.raises(TypeError):
        dumps({"value": object()}, lambda value: json.JSONEncoder().default(value))


def test_debug_answers_stay_indented(app: Flask) -> None:
    app.debug = True
    with app.app_context():
        assert jsonify(a=1).get_data() == b'{\n  "a": 1\n}\n'
