"""A replay that Kafka stops acknowledging says how many events were acknowledged before."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ingest.errors import Unavailable
from ingest.publisher import FakeEventPublisher
from ingest.replay import ReplayInterrupted, replay
from ingest.schema import WatchEvent
from ingest.sources import generate_events


class FailingAfter(FakeEventPublisher):
    """Acknowledges ``batches`` publishes, then fails every one."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.batches = batches

    def publish(self, events: Sequence[WatchEvent]) -> None:
        """Record events, or fail once the budget of batches is spent."""
        self.fail = self.batches <= 0
        self.batches -= 1
        super().publish(events)


def test_an_interrupted_replay_names_the_events_acknowledged_before() -> None:
    publisher = FailingAfter(batches=3)
    with pytest.raises(ReplayInterrupted) as raised:
        replay(generate_events(n_events=2000), publisher, show_progress=False)
    assert raised.value.sent == 1500 == len(publisher.events)
    assert "the first 1500 events were acknowledged" in raised.value.message
    assert isinstance(raised.value, Unavailable)  # the CLI still fails loudly, exit 2
