"""The pure parsing behind the API: JSON bodies, event batches, k and path ids."""

from __future__ import annotations

import pytest

from api.validation import check_id, events_from_body, parse_json_body, parse_k
from ingest.errors import InvalidEvent, InvalidRequest
from tests.unit.conftest import event


@pytest.mark.parametrize(("args", "k"), [({}, 10), ({"k": "1"}, 1), ({"k": "100"}, 100)])
def test_parse_k_accepts_1_to_100(args: dict[str, str], k: int) -> None:
    assert parse_k(args) == k


@pytest.mark.parametrize("raw", ["0", "101", "abc", "", " 5", "+5", "1e1", "\uff15", "0" * 20])
def test_parse_k_rejects_everything_else(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_k({"k": raw})
    assert caught.value.details == [{"field": "k", "message": "must be an integer from 1 to 100"}]


def test_check_id_bounds() -> None:
    assert check_id("user_id", "x" * 128) == "x" * 128
    for bad in ("", "x" * 129):
        with pytest.raises(InvalidRequest) as caught:
            check_id("user_id", bad)
        assert caught.value.details[0]["field"] == "user_id"


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
