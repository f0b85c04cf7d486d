"""The KEYS and ARGV built for the Lua scripts (pure)."""

import json

from stream import redis_calls
from stream.redis_calls import CallSettings, global_calls, user_calls
from stream.redis_scripts import APPLY_GLOBAL_EVENTS, APPLY_USER_EVENTS
from tests.store_contract import update

SETTINGS = CallSettings("sr", history_length=200, dedup_ttl_seconds=600, half_life_ms=1000.0)


def split(args: list) -> tuple[list[str], list]:
    return args[1 : 1 + args[0]], args[1 + args[0] :]


def test_user_calls_name_each_key_once_and_refer_to_it_by_index() -> None:
    updates = [update("e1", "u", "a", "like"), update("e2", "u", "b", "dislike", ts=7)]
    [(body, args)] = user_calls(SETTINGS, [updates])
    names, (ttl, keep, payload) = split(args)
    assert body == APPLY_USER_EVENTS and (ttl, keep) == (600, 200)
    assert names == [
        "sr:user:{u}:event:e1",
        "sr:user:{u}:items",
        "sr:user:{u}:history",
        "sr:user:{u}:event:e2",
    ]
    events = json.loads(payload)
    assert [e[:7] for e in events] == [[1, 2, 3, "a", "4.0", 0, 1000], [4, 2, 3, "b", "-1.0", 1, 7]]
    assert json.loads(events[1][7])["event_type"] == "dislike"


def test_global_calls_count_positive_weight_and_cap_future_times() -> None:
    updates = [update("e1", "u:1", "a", "share", ts=10**13), update("e2", "v", "b", "skip")]
    [(body, args)] = global_calls(SETTINGS, updates, now_ms=5_000)
    names, (*options, payload) = split(args)
    assert body == APPLY_GLOBAL_EVENTS and options[:2] == [600, "1000.0"]
    assert names[:5] == [
        "sr:{global}:users",
        "sr:{global}:popularity",
        "sr:{global}:trending",
        "sr:{global}:trending:clock",
        "sr:{global}:stats",
    ]
    assert names[5:] == ["sr:{global}:seen:2777777", "sr:{global}:seen:0"]
    assert json.loads(payload) == [
        [6, "u%3A1:e1", "u:1", "a", "5.0", 5_000 + 300_000],
        [7, "v:e2", "v", "b", "0.0", 1000],
    ]


def test_big_batches_are_split_into_bounded_script_calls() -> None:
    updates = [update(f"e{n}", f"u{n}", "a") for n in range(redis_calls.EVENTS_PER_SCRIPT + 1)]
    assert len(user_calls(SETTINGS, [updates])) == 2
    assert len(global_calls(SETTINGS, updates, now_ms=0)) == 2
