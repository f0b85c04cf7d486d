"""Request bodies into typed values (pure: no Flask, no I/O); errors name the bad field."""

from __future__ import annotations

import json
from typing import Any

from ingest.errors import InvalidEvent, InvalidRequest
from ingest.schema import WatchEvent, validate_event


def parse_json_body(raw: bytes) -> Any:
    """Decode a request body as JSON; raise InvalidRequest naming ``body`` if it is not."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(
            "request body is not valid JSON",
            [{"field": "body", "message": f"is not valid JSON ({exc})"}],
        ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def events_from_body(body: Any, max_batch_events: int) -> list[WatchEvent]:
    """Validate one event or ``{"events": [...]}``; raise naming every bad field of every event."""
    if not (isinstance(body, dict) and "events" in body):
        return [validate_event(body)]
    batch = body["events"]
    if not isinstance(batch, list):
        raise _invalid_batch("must be a JSON array of events")
    if not batch:
        raise _invalid_batch("must hold at least one event")
    if len(batch) > max_batch_events:
        raise _invalid_batch(f"holds {len(batch)} events, over the limit of {max_batch_events}")
    events: list[WatchEvent] = []
    details: list[dict[str, str]] = []
    for index, data in enumerate(batch):
        try:
            events.append(validate_event(data, f"events[{index}]."))
        except InvalidEvent as exc:
            details.extend(exc.details)
    if details:
        bad = len(batch) - len(events)
        raise InvalidEvent(f"{bad} of {len(batch)} events are invalid; none was accepted", details)
    return events


def _invalid_batch(message: str) -> InvalidRequest:
    return InvalidRequest(f"events {message}", [{"field": "events", "message": message}])
