"""The accounting itself: it must see a lost event, a double application and a missing dead letter.

No worker here: the test applies the published events to Redis itself, then breaks the books on
purpose, so that a clean result of the scenarios means something.
"""

from __future__ import annotations

import pytest
import redis

from ingest.schema import decode_event
from ingest.settings import Settings
from stream import keys
from stream.features import feature_update
from stream.redis_store import RedisFeatureStore
from tests.faults.accounting import account
from tests.faults.poison import poison_messages
from tests.faults.traffic import VALID, create_topics, known_events, mix, publish

pytestmark = pytest.mark.faults_ci


def test_the_books_catch_a_loss_a_double_count_and_a_missing_dead_letter(
    fault_settings: Settings, fault_redis: redis.Redis
) -> None:
    settings = fault_settings
    create_topics(settings)
    sent = publish(settings, mix(known_events(2000, 1, redelivered=50), poison_messages(20, 1), 1))
    events = [decode_event(s.message.value or b"") for s in sent if s.message.expect == VALID]
    store = RedisFeatureStore(fault_redis, settings.key_prefix, settings.history_length)
    lost = events[10]
    doubled = next(e for e in events[20:] if e.event_type in ("view", "watch", "like"))
    store.apply([feature_update(event) for event in events if event is not lost])
    fault_redis.delete(keys.event_seen_key(settings.key_prefix, doubled.user_id, doubled.event_id))
    fault_redis.srem(
        keys.global_seen_key(settings.key_prefix, doubled.timestamp),
        keys.global_seen_member(doubled.user_id, doubled.event_id),
    )
    store.apply([feature_update(doubled)])  # the dedup markers are gone: applied a second time

    books = account("accounting_self_test", settings, fault_redis, sent)
    print(books.summary())
    assert books.lost == 1 + 20  # one event, and the 20 invalid messages (no worker wrote a DLQ)
    assert books.duplicated == 1
    assert not books.features_equal and not books.balanced and not books.clean
    assert books.redelivered == 50 and books.applied_once == 2000 - 1
