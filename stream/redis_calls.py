"""The KEYS and ARGV of the store's Lua scripts for a batch of updates (pure, no I/O).

The argument layout of each script is documented beside it in ``stream.redis_scripts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stream import keys, trending
from stream.features import FeatureUpdate
from stream.redis_scripts import APPLY_GLOBAL_EVENTS, APPLY_USER_EVENTS

Call = tuple[str, list[Any]]  # (script body, [numkeys, *KEYS, *ARGV])
EVENTS_PER_SCRIPT = 500  # bounds how long one script call blocks other clients


@dataclass(frozen=True)
class CallSettings:
    """What the scripts need besides the updates."""

    prefix: str
    history_length: int
    dedup_ttl_seconds: int
    half_life_ms: float


class KeyIndex:
    """Key names in first-seen order with their 1-based index (as KEYS[i] in Lua)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, name: str) -> int:
        """Return the Lua index of a key name, adding it if new."""
        position = self._index.get(name)
        if position is None:
            self.names.append(name)
            position = self._index[name] = len(self.names)
        return position


def user_calls(settings: CallSettings, groups: Iterable[Sequence[FeatureUpdate]]) -> list[Call]:
    """One call per group (updates whose users share a cluster slot) and chunk."""
    p, calls = settings.prefix, []
    for group in groups:
        for chunk in chunks(group):
            index = KeyIndex()
            events = [
                [
                    index.add(keys.event_seen_key(p, u.user_id, u.event_id)),
                    index.add(keys.user_items_key(p, u.user_id)),
                    index.add(keys.user_history_key(p, u.user_id)),
                    u.item_id,
                    repr(u.weight),
                    int(u.replace),
                    u.timestamp_ms,
                    u.history_entry,
                ]
                for u in chunk
            ]
            args = [settings.dedup_ttl_seconds, settings.history_length, to_json(events)]
            calls.append((APPLY_USER_EVENTS, [len(index.names), *index.names, *args]))
    return calls


def global_calls(
    settings: CallSettings, updates: Sequence[FeatureUpdate], now_ms: int
) -> list[Call]:
    """One call per chunk: users, popularity, trending, stats and the hourly dedup sets."""
    p, calls = settings.prefix, []
    fixed = [keys.users_key(p), keys.popularity_key(p), keys.trending_key(p)]
    fixed += [keys.trending_clock_key(p), keys.stats_key(p)]
    options = [settings.dedup_ttl_seconds, repr(settings.half_life_ms)]
    options += [trending.REBASE_AFTER_HALF_LIVES, repr(trending.PRUNE_BELOW)]
    for chunk in chunks(updates):
        index = KeyIndex()
        for name in fixed:
            index.add(name)
        events = [
            [
                index.add(keys.global_seen_key(p, u.timestamp_ms)),
                keys.global_seen_member(u.user_id, u.event_id),
                u.user_id,
                u.item_id,
                repr(u.popularity),
                trending.trending_time_ms(u.timestamp_ms, now_ms),
            ]
            for u in chunk
        ]
        args = [*options, to_json(events)]
        calls.append((APPLY_GLOBAL_EVENTS, [len(index.names), *index.names, *args]))
    return calls


def chunks(updates: Sequence[FeatureUpdate]) -> list[Sequence[FeatureUpdate]]:
    """Split updates into runs of at most EVENTS_PER_SCRIPT."""
    step = EVENTS_PER_SCRIPT
    return [updates[i : i + step] for i in range(0, len(updates), step)]


def to_json(value: Any) -> str:
    """Compact JSON, non-ASCII kept as UTF-8 (cjson in Lua reads it)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
