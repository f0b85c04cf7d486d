"""Event -> feature update: the pure part of the stream worker (no faust, no redis here)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ingest.schema import WatchEvent

# How much one event says the user wants the item. Negative signals carry no weight yet: they
# only mark the item as seen (so it is not recommended again); see docs in README.
EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "watch": 2.0,
    "like": 4.0,
    "share": 5.0,
    "skip": 0.0,
    "dislike": 0.0,
}
WATCH_BONUS = 2.0


def event_weight(event: WatchEvent) -> float:
    """Return the implicit-feedback weight of one event (a full watch counts most)."""
    if event.event_type == "watch" and event.watch_seconds is not None and event.duration_seconds:
        fraction = min(event.watch_seconds / event.duration_seconds, 1.0)
        return 1.0 + WATCH_BONUS * fraction
    return EVENT_WEIGHTS[event.event_type]


@dataclass(frozen=True)
class FeatureUpdate:
    """What one event changes: the user's item weight, history and the item's popularity."""

    event_id: str
    user_id: str
    item_id: str
    weight: float
    timestamp_ms: int
    history_entry: str


def history_entry(event: WatchEvent) -> str:
    """Render the compact JSON kept in a user's history (newest-first by event time)."""
    entry = {
        "event_id": event.event_id,
        "item_id": event.item_id,
        "event_type": event.event_type,
        "timestamp": event.timestamp,
    }
    return json.dumps(entry, separators=(",", ":"), sort_keys=True)


def feature_update(event: WatchEvent) -> FeatureUpdate:
    """Compute the feature update one event makes."""
    return FeatureUpdate(
        event_id=event.event_id,
        user_id=event.user_id,
        item_id=event.item_id,
        weight=event_weight(event),
        timestamp_ms=event.timestamp,
        history_entry=history_entry(event),
    )
