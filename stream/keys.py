"""Redis key builders: pure functions, tested byte for byte.

All keys of one user share the hash tag ``{<user_id>}`` so that they live in one Redis Cluster
slot. Ids are escaped so that a ``{``, ``}`` or ``%`` inside an id cannot move the tag.
"""

from __future__ import annotations


def escape_id(value: str) -> str:
    """Escape the characters that would change a key's hash tag."""
    return value.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def user_items_key(prefix: str, user_id: str) -> str:
    """Hash item_id -> accumulated weight for one user (what the model trains on)."""
    return f"{prefix}:user:{{{escape_id(user_id)}}}:items"


def user_history_key(prefix: str, user_id: str) -> str:
    """Sorted set of one user's recent events (JSON), scored by event time in milliseconds."""
    return f"{prefix}:user:{{{escape_id(user_id)}}}:history"


def event_seen_key(prefix: str, user_id: str, event_id: str) -> str:
    """Expiring marker that an event was applied (deduplication window)."""
    return f"{prefix}:user:{{{escape_id(user_id)}}}:event:{escape_id(event_id)}"


def users_key(prefix: str) -> str:
    """Set of every user_id with features."""
    return f"{prefix}:users"


def popularity_key(prefix: str) -> str:
    """Sorted set item_id -> summed positive weight over all users."""
    return f"{prefix}:items:popularity"


def stats_key(prefix: str) -> str:
    """Hash of counters: events applied, duplicates skipped."""
    return f"{prefix}:stats"
