"""The event contract: what is accepted, what is rejected and which field is named."""

import json

import pytest

from ingest.errors import InvalidEvent
from ingest.schema import MAX_EVENT_BYTES, decode_event, validate_event

VALID = {
    "event_id": "e-1",
    "user_id": "u-1",
    "item_id": "i-1",
    "event_type": "watch",
    "timestamp": "2024-03-01T12:00:00Z",
    "watch_seconds": 30,
    "duration_seconds": 60.5,
}


def fields_at_fault(data: object, prefix: str = "") -> list[str]:
    with pytest.raises(InvalidEvent) as info:
        validate_event(data, prefix)
    return [detail["field"] for detail in info.value.details]


def test_valid_event_normalises_timestamp_to_epoch_ms() -> None:
    event = validate_event(VALID)
    assert event.timestamp == 1709294400000
    assert event.watch_seconds == 30
    assert event.duration_seconds == 60.5


@pytest.mark.parametrize(
    ("timestamp", "expected_ms"),
    [
        (1709294400123, 1709294400123),
        ("2024-03-01T12:00:00.5+01:00", 1709290800500),
        ("2024-03-01t12:00:00z", 1709294400000),
        (0, 0),
    ],
)
def test_timestamp_forms(timestamp: object, expected_ms: int) -> None:
    assert validate_event({**VALID, "timestamp": timestamp}).timestamp == expected_ms


def test_unknown_fields_are_ignored_and_optional_fields_may_be_absent() -> None:
    data = {k: v for k, v in VALID.items() if not k.endswith("seconds")}
    event = validate_event({**data, "device": "tv", "extra": {"nested": [1]}})
    assert event.watch_seconds is None and event.duration_seconds is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", ""),
        ("event_id", "x" * 129),
        ("user_id", 42),
        ("item_id", None),
        ("event_type", "click"),
        ("timestamp", "2024-03-01"),
        ("timestamp", "2024-03-01T12:00:00"),
        ("timestamp", "yesterday"),
        ("timestamp", True),
        ("timestamp", -1),
        ("timestamp", 1.5),
        ("watch_seconds", -1),
        ("watch_seconds", "10"),
        ("watch_seconds", True),
        ("duration_seconds", 0),
    ],
)
def test_each_invalid_field_is_named(field: str, value: object) -> None:
    assert fields_at_fault({**VALID, field: value}) == [field]


def test_missing_fields_are_all_named_with_prefix() -> None:
    faults = fields_at_fault({"event_type": "view"}, prefix="events[3].")
    assert sorted(faults) == [
        "events[3].event_id",
        "events[3].item_id",
        "events[3].timestamp",
        "events[3].user_id",
    ]


def test_non_object_is_rejected() -> None:
    assert fields_at_fault([1, 2]) == ["body"]
    assert fields_at_fault("x", prefix="events[0].") == ["events[0]"]


def test_wire_round_trip() -> None:
    event = validate_event(VALID)
    assert decode_event(event.to_json_bytes()) == event
    assert "null" not in event.to_json_bytes().decode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b'{"event_id": NaN}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "byte limit"),
        (b"[" * 30_000 + b"]" * 30_000, "not valid JSON"),
        (json.dumps({**VALID, "event_type": "nope"}).encode(), "event_type"),
    ],
)
def test_decode_rejects_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode_event(raw)


def test_decode_size_limit_is_64_kib() -> None:
    padding = "x" * (MAX_EVENT_BYTES - len(json.dumps({**VALID, "pad": ""})))
    decode_event(json.dumps({**VALID, "pad": padding}).encode())
    with pytest.raises(InvalidEvent, match="byte limit"):
        decode_event(json.dumps({**VALID, "pad": padding + "x"}).encode())
