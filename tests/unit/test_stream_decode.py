"""decode_event's fast path (pydantic parses the bytes) answers exactly as the full path does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import InvalidEvent
from ingest.schema import WatchEvent, decode_event, decode_event_fully


def reference(raw: bytes) -> WatchEvent | str:
    """The full path alone: UTF-8, json.loads without NaN/Infinity, then validate_event."""
    try:
        return decode_event_fully(raw)
    except InvalidEvent as exc:
        return exc.message


def decoded(raw: bytes) -> WatchEvent | str:
    try:
        return decode_event(raw)
    except InvalidEvent as exc:
        return exc.message


odd_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=6) | st.sampled_from(
    ["", "x" * 129, "é", "\u2028", '"', "\\", "\x00", "2024-03-01T12:00:00Z", "view", "watch"]
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
    st.lists(st.integers(), max_size=2),
)
FIELDS = ["event_id", "user_id", "item_id", "event_type", "timestamp"]
OPTIONAL = ["watch_seconds", "duration_seconds", "extra"]
VALID = {
    "event_id": "e",
    "user_id": "u",
    "item_id": "i",
    "event_type": "watch",
    "timestamp": 1_700_000_000_000,
}


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from(FIELDS + OPTIONAL), values, max_size=4),
    dropped=st.lists(st.sampled_from(FIELDS), max_size=2),
)
def test_fast_and_full_paths_agree_on_event_like_objects(
    changes: dict[str, Any], dropped: list[str]
) -> None:
    data = {k: v for k, v in {**VALID, **changes}.items() if k not in dropped}
    raw = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert decoded(raw) == reference(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event_id":"e","user_id":"u","item_id":"i","event_type":"view","timestamp":1,"x":NaN}',
        b'{"event_id":"e","user_id":"u","item_id":"i","event_type":"view","timestamp":1,'
        b'"x":-Infinity}',
        b'{"event_id":"e","user_id":"u","item_id":"i","event_type":"view","timestamp":1} x',
        b'\xef\xbb\xbf{"event_id":"e","user_id":"u","item_id":"i","event_type":"view",'
        b'"timestamp":1}',
        b'{"event_id":"\\ud800","user_id":"u","item_id":"i","event_type":"view","timestamp":1}',
        b'{"event_id":"e","user_id":"u","item_id":"i","event_type":"view","timestamp":1,'
        b'"x":"\xed\xa0\x80"}',
        b'{"event_id":"e","user_id":"u","item_id":"i","event_type":"view","timestamp":1,'
        b'"event_id":"f"}',
        b'{"event_id":"e","user_id":"u","item_id":"i","event_type":"watch","timestamp":1,'
        b'"watch_seconds":1e400}',
        b"[1]",
        b"",
    ],
)
def test_fast_and_full_paths_agree_on_odd_messages(raw: bytes) -> None:
    assert decoded(raw) == reference(raw)


@given(st.binary(max_size=40))
def test_fast_and_full_paths_agree_on_arbitrary_bytes(raw: bytes) -> None:
    assert decoded(raw) == reference(raw)
