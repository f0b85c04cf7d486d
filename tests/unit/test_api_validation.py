"""The pure parsing behind the API: JSON bodies, event batches, query parameters and ids."""

from __future__ import annotations

import re

import pytest
from werkzeug.datastructures import MultiDict

from api.params import (
    HistoryQuery,
    ListQuery,
    RecommendQuery,
    id_schema,
    parse_id,
    parse_query,
)
from api.validation import events_from_body, parse_json_body
from ingest.errors import InvalidEvent, InvalidRequest
from ingest.schema import validate_event
from tests.unit.conftest import event


def k_of(args: dict[str, str]) -> int:
    return parse_query(ListQuery, args).k


@pytest.mark.parametrize(("args", "k"), [({}, 10), ({"k": "1"}, 1), ({"k": "100"}, 100)])
def test_k_is_1_to_100(args: dict[str, str], k: int) -> None:
    assert k_of(args) == k


@pytest.mark.parametrize("raw", ["0", "101", "abc", "", " 5", "+5", "1e1", "\uff15", "0" * 20])
def test_k_rejects_everything_else(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        k_of({"k": raw})
    assert caught.value.details == [{"field": "k", "message": "must be an integer from 1 to 100"}]


def test_recommend_query_reads_every_filter() -> None:
    args = {"k": "5", "exclude": "a1,,b2,a1", "category": "Comedy", "include_seen": "true"}
    query = parse_query(RecommendQuery, args | {"unknown": "ignored"})
    assert (query.k, query.exclude, query.category, query.include_seen) == (
        5,
        frozenset({"a1", "b2"}),
        "Comedy",
        True,
    )
    assert parse_query(RecommendQuery, {}) == RecommendQuery()
    assert RecommendQuery().include_seen is False and RecommendQuery().exclude == frozenset()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"include_seen": "yes"}, "include_seen"),
        ({"exclude": ",".join(f"i{n}" for n in range(101))}, "exclude"),
        ({"exclude": "a1,b\x01"}, "exclude"),
        ({"exclude": "x" * 129}, "exclude"),
        ({"category": ""}, "category"),
        ({"category": "x" * 129}, "category"),
    ],
)
def test_bad_filters_are_named(args: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_query(RecommendQuery, args)
    assert [d["field"] for d in caught.value.details] == [field]


def test_every_bad_parameter_is_reported() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_query(RecommendQuery, {"k": "0", "include_seen": "1"})
    assert [d["field"] for d in caught.value.details] == ["k", "include_seen"]


@pytest.mark.parametrize(("raw", "limit"), [(None, 50), ("1", 1), ("200", 200)])
def test_history_limit_is_1_to_200(raw: str | None, limit: int) -> None:
    assert parse_query(HistoryQuery, {} if raw is None else {"limit": raw}).limit == limit
    with pytest.raises(InvalidRequest):
        parse_query(HistoryQuery, {"limit": "201"})


@pytest.mark.parametrize("value", ["x" * 128, "a/b", "a b", "\u20ac", "{u}", "..", "%41"])
def test_path_ids_accept_any_event_id_without_control_characters(value: str) -> None:
    assert parse_id("user_id", value) == value
    ids = {"event_id": value, "user_id": value, "item_id": value}
    validate_event(event("u", "i") | ids)  # and every such id is a valid event id


@pytest.mark.parametrize("bad", ["", "x" * 129, "a\x00b", "tab\there", "\x7f", "\x85"])
def test_path_ids_reject_bad_lengths_and_control_characters(bad: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_id("user_id", bad)
    assert caught.value.details[0]["field"] == "user_id"


def test_id_schema_says_what_parse_id_enforces() -> None:
    schema = id_schema()
    assert (schema["minLength"], schema["maxLength"]) == (1, 128)
    pattern = re.compile(schema["pattern"])  # ECMA-262 and Python read it alike
    assert pattern.fullmatch("a/b \u20ac") and not pattern.fullmatch("a\x00b")


def test_parse_json_body_rejects_bad_bytes() -> None:
    for raw in (b"\xff\xfe\xfa", b"[" * 100_000, b"Infinity"):
        with pytest.raises(InvalidRequest) as caught:
            parse_json_body(raw)
        assert caught.value.details[0]["field"] == "body"


def test_events_from_body_single_and_batch() -> None:
    assert [e.item_id for e in events_from_body(event("u1", "a1"), 2)] == ["a1"]
    batch = {"events": [event("u1", "a1"), event("u1", "a2")]}
    assert [e.item_id for e in events_from_body(batch, 2)] == ["a1", "a2"]


def test_events_from_body_counts_the_bad_events() -> None:
    batch = {"events": [event("u1", "a1"), {}, event("u1", "a2") | {"event_type": "x"}]}
    with pytest.raises(InvalidEvent) as caught:
        events_from_body(batch, 10)
    assert caught.value.message.startswith("2 of 3 events are invalid")
    fields = {d["field"] for d in caught.value.details}
    assert "events[1].user_id" in fields and "events[2].event_type" in fields


def test_repeated_exclude_parameters_add_up() -> None:
    args = MultiDict([("exclude", "a1,b2"), ("exclude", "c3"), ("k", "3"), ("k", "99")])
    query = parse_query(ListQuery, args)
    assert query.exclude == frozenset({"a1", "b2", "c3"}) and query.k == 3
