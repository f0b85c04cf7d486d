"""UTC time stamps (RFC 3339) and sortable model version names."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

# "20261125T190102Z-1a2b3c": sorts by training time; the suffix tells apart same-second runs.
VERSION_PATTERN = re.compile(r"^\d{8}T\d{6}(\d{6})?Z-[0-9a-f]{6}$")


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def format_rfc3339(moment: datetime) -> str:
    """Format a time as RFC 3339 UTC with milliseconds, e.g. ``2026-11-25T19:01:02.123Z``."""
    # isoformat is C code, a third of strftime's time; every answer carries one of these.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def format_epoch(seconds: float) -> str:
    """Format epoch seconds (a log record's ``created``) as ``format_rfc3339`` does."""
    return format_rfc3339(datetime.fromtimestamp(seconds, UTC))


def new_version(moment: datetime) -> str:
    """Return a new model version name for a model trained at ``moment``."""
    # Microseconds keep names in training order even for several trainings in one second.
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)
