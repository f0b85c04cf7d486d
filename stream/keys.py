"""Redis key builders: pure functions, tested byte for byte.

All keys of one user share the hash tag ``{<user_id>}`` so that they live in one Redis Cluster
slot; ids are escaped so that a ``{``, ``}`` or ``%`` inside an id cannot move the tag. The keys
that every event touches (users, popularity, trending, stats and their dedup markers) share the
hash tag ``{global}`` so that one script can update them together on a Redis Cluster too.
"""

from __future__ import annotations

GLOBAL_TAG = "{global}"
SEEN_BUCKET_MS = 3_600_000  # one global dedup set per hour of event time


def escape_id(value: str) -> str:
    """Escape the characters that would change a key's hash tag."""
    return value.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def user_items_key(prefix: str, user_id: str) -> str:
    """Hash item_id -> weight for one user (what the model trains on; < 0 = never recommend)."""
    return f"{prefix}:user:{{{escape_id(user_id)}}}:items"


def user_history_key(prefix: str, user_id: str) -> str:
    """Sorted set of one user's recent events (JSON), scored by event time in milliseconds."""
    return f"{prefix}:user:{{{escape_id(user_id)}}}:history"


def event_seen_key(prefix: str, user_id: str, event_id: str) -> str:
    """Expiring marker that an event's per-user features were applied (deduplication window)."""
    return f"{prefix}:user:{{{escape_id(user_id)}}}:event:{escape_id(event_id)}"


def global_seen_key(prefix: str, timestamp_ms: int) -> str:
    """Expiring set of the events of one event-time hour whose global counters were applied."""
    return f"{prefix}:{GLOBAL_TAG}:seen:{timestamp_ms // SEEN_BUCKET_MS}"


def global_seen_member(user_id: str, event_id: str) -> str:
    """An event's member in its ``global_seen_key`` set (user and event kept apart)."""
    return f"{escape_id(user_id).replace(':', '%3A')}:{escape_id(event_id)}"


def users_key(prefix: str) -> str:
    """Set of every user_id with features."""
    return f"{prefix}:{GLOBAL_TAG}:users"


def popularity_key(prefix: str) -> str:
    """Sorted set item_id -> summed positive weight over all users."""
    return f"{prefix}:{GLOBAL_TAG}:popularity"


def trending_key(prefix: str) -> str:
    """Sorted set item_id -> forward-decayed positive weight (see ``stream.trending``)."""
    return f"{prefix}:{GLOBAL_TAG}:trending"


def trending_clock_key(prefix: str) -> str:
    """Hash of the trending ``landmark_ms`` and the ``newest_ms`` event time seen."""
    return f"{prefix}:{GLOBAL_TAG}:trending:clock"


def stats_key(prefix: str) -> str:
    """Hash of counters: events applied, duplicates skipped."""
    return f"{prefix}:{GLOBAL_TAG}:stats"
