"""Replaying events into Kafka at a chosen rate, with a progress bar."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator

from tqdm import tqdm

from ingest.errors import Unavailable
from ingest.publisher import EventPublisher
from ingest.schema import WatchEvent

BATCH_SIZE = 500


class ReplayInterrupted(Unavailable):
    """Kafka stopped acknowledging part-way: says how many events were acknowledged before."""

    def __init__(self, sent: int, reason: str) -> None:
        super().__init__(
            f"{reason}; the first {sent} events were acknowledged, later ones may or may not "
            "have been written (replaying the same input again is safe: event ids come from "
            "the content)"
        )
        self.sent = sent


def batched(events: Iterable[WatchEvent], size: int) -> Iterator[list[WatchEvent]]:
    """Group events into lists of at most ``size``."""
    iterator = iter(events)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def replay(
    events: Iterable[WatchEvent],
    publisher: EventPublisher,
    rate_per_second: float = 0.0,
    total: int | None = None,
    show_progress: bool = True,
) -> int:
    """Publish events (acknowledged batches); ``rate_per_second`` 0 means as fast as possible."""
    batch_size = (
        BATCH_SIZE if rate_per_second <= 0 else max(1, min(BATCH_SIZE, int(rate_per_second / 10)))
    )
    sent = 0
    started = time.monotonic()
    with tqdm(total=total, unit="ev", disable=not show_progress, desc="replay") as progress:
        for batch in batched(events, batch_size):
            try:
                publisher.publish(batch)
            except Unavailable as exc:
                raise ReplayInterrupted(sent, exc.message) from exc
            sent += len(batch)
            progress.update(len(batch))
            if rate_per_second > 0:
                ahead = sent / rate_per_second - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
    return sent
