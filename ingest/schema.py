"""The watch-event contract: one definition, used by the HTTP API and by the stream worker.

An event is JSON on topic ``watch-events`` keyed by ``user_id``. Unknown extra fields are
ignored; anything else invalid is rejected with the field at fault.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from ingest.errors import InvalidEvent

EventType = Literal["view", "watch", "like", "share", "skip", "dislike"]
EVENT_TYPES: tuple[str, ...] = ("view", "watch", "like", "share", "skip", "dislike")
MAX_EVENT_BYTES = 64 * 1024
# Year 10000 in epoch milliseconds: anything later cannot be an RFC 3339 date either.
MAX_TIMESTAMP_MS = 253_402_300_800_000
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def to_epoch_ms(value: Any) -> int:
    """Turn an RFC 3339 string or integer epoch milliseconds into epoch milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an RFC 3339 string or integer epoch milliseconds")
    if isinstance(value, int):
        millis = value
    else:
        if not _RFC3339.match(value):
            raise ValueError("is not an RFC 3339 date-time with a time zone")
        try:
            parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"is not a valid date-time ({exc})") from None
        millis = round(parsed.timestamp() * 1000)
    if not 0 <= millis < MAX_TIMESTAMP_MS:
        raise ValueError("is out of range (epoch milliseconds from 1970 to year 9999)")
    return millis


Id = Annotated[str, Field(min_length=1, max_length=128, strict=True)]
EpochMillis = Annotated[int, BeforeValidator(to_epoch_ms)]
NonNegative = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]


class WatchEvent(BaseModel):
    """One user interaction with one item; ``timestamp`` is normalised to epoch milliseconds."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Id
    user_id: Id
    item_id: Id
    event_type: EventType
    timestamp: EpochMillis
    watch_seconds: NonNegative | None = None
    duration_seconds: Positive | None = None

    def to_json_bytes(self) -> bytes:
        """Serialise to the wire format (timestamp as epoch milliseconds, no nulls)."""
        return self.model_dump_json(exclude_none=True).encode("utf-8")


def _field_errors(exc: PydanticValidationError, prefix: str) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        errors.append(
            {"field": f"{prefix}{path}" if path else prefix.rstrip("."), "message": message}
        )
    return errors


def validate_event(data: Any, field_prefix: str = "") -> WatchEvent:
    """Validate one decoded JSON value as an event; raise InvalidEvent naming each bad field."""
    if not isinstance(data, dict):
        raise InvalidEvent(
            "event must be a JSON object",
            [{"field": field_prefix.rstrip(".") or "body", "message": "must be a JSON object"}],
        )
    try:
        return WatchEvent.model_validate(data)
    except PydanticValidationError as exc:
        details = _field_errors(exc, field_prefix)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise InvalidEvent(f"invalid event: {summary}", details) from None


def decode_event(raw: bytes) -> WatchEvent:
    """Decode and validate one Kafka message value; raise InvalidEvent with the reason."""
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"message is {len(raw)} bytes, over the {MAX_EVENT_BYTES} byte limit")
    # Fast path for the common valid event: pydantic parses the bytes itself (~3x cheaper).
    # Its JSON parser accepts NaN and Infinity, which ours rejects, so those take the full path;
    # any failure is re-done by the full path, which words the reason.
    if b"NaN" not in raw and b"Infinity" not in raw:
        try:
            return WatchEvent.model_validate_json(raw)
        except PydanticValidationError:
            pass
    return decode_event_fully(raw)


def decode_event_fully(raw: bytes) -> WatchEvent:
    """Decode one message value with our own JSON parsing, wording the reason when it fails."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"message is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidEvent(f"message is not valid JSON: {exc}") from None
    return validate_event(data)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
