"""Event -> feature update, key layout and the dead-letter split."""

import json

import pytest

from ingest.schema import validate_event
from stream import keys
from stream.batch import DeadLetter, RawMessage, split_batch
from stream.features import apply_weight, event_weight, feature_update


def event(**overrides: object):
    data = {"event_id": "e", "user_id": "u", "item_id": "i", "event_type": "view", "timestamp": 5}
    return validate_event({**data, **overrides})


@pytest.mark.parametrize(
    ("event_type", "weight"),
    [
        ("view", 1.0),
        ("watch", 2.0),
        ("like", 4.0),
        ("share", 5.0),
        ("skip", -1.0),
        ("dislike", -1.0),
    ],
)
def test_weights_by_type(event_type: str, weight: float) -> None:
    assert event_weight(event(event_type=event_type)) == weight


def test_dislike_replaces_the_weight_other_events_add_to_it() -> None:
    dislike, skip, like = (feature_update(event(event_type=t)) for t in ("dislike", "skip", "like"))
    assert (dislike.replace, skip.replace, like.replace) == (True, False, False)
    assert apply_weight(5.0, dislike) == -1.0
    assert apply_weight(-1.0, skip) == -2.0
    assert apply_weight(-1.0, like) == 3.0
    assert apply_weight(None, skip) == -1.0


def test_only_positive_weight_counts_for_popularity() -> None:
    assert [feature_update(event(event_type=t)).popularity for t in ("share", "skip")] == [5.0, 0.0]


def test_watch_weight_grows_with_fraction_watched_and_caps() -> None:
    def watched(seconds: float) -> float:
        return event_weight(event(event_type="watch", watch_seconds=seconds, duration_seconds=100))

    assert watched(0) == 1.0
    assert watched(50) == 2.0
    assert watched(100) == watched(500) == 3.0


def test_feature_update_carries_history_entry() -> None:
    update = feature_update(event(event_type="like", timestamp=1234))
    assert (update.user_id, update.item_id, update.event_type, update.weight) == (
        "u",
        "i",
        "like",
        4.0,
    )
    assert update.timestamp_ms == 1234
    assert json.loads(update.history_entry) == {
        "event_id": "e",
        "item_id": "i",
        "event_type": "like",
        "timestamp": 1234,
    }


@pytest.mark.parametrize("odd", ['q"uote', "back\\slash", "ünï", "tab\t", "\u2028", "{x}"])
def test_history_entry_is_canonical_json(odd: str) -> None:
    update = feature_update(event(event_id=odd, item_id=odd + "!", event_type="share"))
    entry = json.loads(update.history_entry)
    assert update.history_entry == json.dumps(entry, separators=(",", ":"), sort_keys=True)
    assert (entry["event_id"], entry["item_id"]) == (odd, odd + "!")


def test_keys_byte_for_byte() -> None:
    assert keys.user_items_key("sr", "42") == "sr:user:{42}:items"
    assert keys.user_history_key("sr", "42") == "sr:user:{42}:history"
    assert keys.event_seen_key("sr", "42", "e-1") == "sr:user:{42}:event:e-1"
    assert keys.global_seen_key("sr", 7_200_000 + 5) == "sr:{global}:seen:2"
    assert keys.global_seen_member("42", "e-1") == "42:e-1"
    assert keys.users_key("sr") == "sr:{global}:users"
    assert keys.popularity_key("t1") == "t1:{global}:popularity"
    assert keys.trending_key("sr") == "sr:{global}:trending"
    assert keys.trending_clock_key("sr") == "sr:{global}:trending:clock"
    assert keys.stats_key("sr") == "sr:{global}:stats"


def test_global_dedup_members_keep_user_and_event_apart() -> None:
    assert keys.global_seen_member("a:b", "c") != keys.global_seen_member("a", "b:c")


def test_keys_escape_braces_so_the_hash_tag_is_the_whole_user_id() -> None:
    assert keys.user_items_key("sr", "a}b{%") == "sr:user:{a%7Db%7B%25}:items"
    assert keys.escape_id("a%7D") != keys.escape_id("a}")


def test_split_batch_separates_dead_letters_with_reasons() -> None:
    good = event(event_id="ok").to_json_bytes()
    messages = [
        RawMessage("watch-events", 0, 10, b"u", good),
        RawMessage("watch-events", 1, 11, b"u", b"\xff"),
        RawMessage("watch-events", 2, 12, None, None),
        RawMessage("watch-events", 3, 13, b"u", b'{"event_id": "x"}'),
    ]
    updates, dead = split_batch(messages)
    assert [u.event_id for u in updates] == ["ok"]
    assert [d.message.offset for d in dead] == [11, 12, 13]
    assert "UTF-8" in dead[0].reason and "no value" in dead[1].reason
    assert "user_id" in dead[2].reason
    assert dict(dead[2].headers())["dlq.source.partition"] == b"3"
    assert [d.code for d in dead] == ["undecodable", "no_value", "schema"]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"\xff\xfe", "undecodable"),
        (b"{broken", "invalid_json"),
        (b'{"x": NaN}', "invalid_json"),
        (b"[1]", "schema"),
        (b'{"event_id": "x"}', "schema"),
        (b" " * (64 * 1024 + 1), "too_large"),
    ],
)
def test_every_dead_letter_has_a_machine_readable_reason_code(value: bytes, code: str) -> None:
    _, dead = split_batch([RawMessage("watch-events", 0, 1, None, value)])
    assert [d.code for d in dead] == [code]
    assert dict(dead[0].headers())["dlq.reason.code"] == code.encode()


def test_a_dead_letter_too_large_for_the_dlq_is_written_cut_with_its_size() -> None:
    small = DeadLetter(RawMessage("watch-events", 0, 1, b"k", b"x" * 70_000), "big", "too_large")
    assert small.record() == (b"k", b"x" * 70_000, small.headers())
    huge = DeadLetter(RawMessage("watch-events", 0, 2, b"k", b"x" * 2**20), "big", "too_large")
    key, value, headers = huge.record()
    assert key == b"k" and value == b"x" * (64 * 1024)
    assert dict(headers)["dlq.value.truncated_from"] == str(2**20).encode()
