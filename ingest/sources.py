"""Reading interaction files (MovieLens ``u.data``, plain CSV) and generating sample events."""

from __future__ import annotations

import csv
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

from ingest.errors import InvalidRequest
from ingest.schema import EVENT_TYPES, WatchEvent, to_epoch_ms

# Stable namespace: the same interaction always gets the same event_id, so replaying a file
# twice changes nothing (the stream worker deduplicates by event_id).
EVENT_ID_NAMESPACE = uuid.UUID("7a0c3c55-35b5-4f0e-9a3c-2f1d1c6b7e10")


def interaction_event(user_id: str, item_id: str, timestamp_ms: int, event_type: str) -> WatchEvent:
    """Build an event whose id is derived from its content."""
    event_id = uuid.uuid5(EVENT_ID_NAMESPACE, f"{user_id}|{item_id}|{timestamp_ms}|{event_type}")
    return WatchEvent(
        event_id=str(event_id),
        user_id=user_id,
        item_id=item_id,
        event_type=event_type,  # type: ignore[arg-type]
        timestamp=timestamp_ms,
    )


def rating_event_type(rating: int) -> str:
    """Map a MovieLens star rating to an event type: 5 like, 4 watch, 1-3 view."""
    return "like" if rating >= 5 else "watch" if rating == 4 else "view"


def read_movielens(path: Path) -> Iterator[WatchEvent]:
    """Yield events from a MovieLens ``u.data`` file (user, item, rating, unix seconds)."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.split("\t")
            if len(fields) != 4:
                raise InvalidRequest(f"{path}:{number}: expected 4 tab-separated fields")
            user_id, item_id, rating, seconds = (field.strip() for field in fields)
            yield interaction_event(
                user_id, item_id, int(seconds) * 1000, rating_event_type(int(rating))
            )


def read_csv(path: Path) -> Iterator[WatchEvent]:
    """Yield events from a CSV ``user_id,item_id,timestamp[,event_type]`` (header optional)."""
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if number == 1 and row and row[0].strip() == "user_id":
                continue
            if len(row) not in (3, 4):
                raise InvalidRequest(f"{path}:{number}: expected 3 or 4 comma-separated fields")
            event_type = row[3].strip() if len(row) == 4 else "view"
            if event_type not in EVENT_TYPES:
                raise InvalidRequest(f"{path}:{number}: unknown event_type {event_type!r}")
            try:
                timestamp = to_epoch_ms(_csv_timestamp(row[2].strip()))
            except ValueError as exc:
                raise InvalidRequest(f"{path}:{number}: timestamp {exc}") from None
            yield interaction_event(row[0].strip(), row[1].strip(), timestamp, event_type)


def _csv_timestamp(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def read_interactions(path: Path, file_format: str = "auto") -> Iterator[WatchEvent]:
    """Yield events from an interaction file; ``auto`` picks MovieLens for tab-separated files."""
    if not path.is_file():
        raise InvalidRequest(f"no such file: {path}")
    if file_format == "auto":
        with path.open(encoding="utf-8") as handle:
            file_format = "movielens" if "\t" in handle.readline() else "csv"
    readers = {"movielens": read_movielens, "csv": read_csv}
    if file_format not in readers:
        raise InvalidRequest(f"unknown format {file_format!r}; use auto, movielens or csv")
    return readers[file_format](path)


def generate_events(
    n_users: int = 300, n_items: int = 400, n_events: int = 12_000, seed: int = 42
) -> Iterator[WatchEvent]:
    """Yield synthetic events with clustered tastes (each user mostly watches one genre)."""
    rng = random.Random(seed)
    n_genres = 8
    start_ms = 1_700_000_000_000
    for number in range(n_events):
        user = rng.randrange(n_users)
        genre = user % n_genres if rng.random() < 0.85 else rng.randrange(n_genres)
        # Items of a genre share a residue; lower indices are more popular within it.
        rank = min(int(rng.expovariate(1 / 12)), n_items // n_genres - 1)
        item = rank * n_genres + genre
        event_type = rng.choices(EVENT_TYPES, weights=(40, 30, 12, 4, 10, 4))[0]
        yield interaction_event(
            f"user-{user}", f"item-{item}", start_ms + number * 1000, event_type
        )
