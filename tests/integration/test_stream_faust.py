"""The faust-streaming engine (STREAMREC_STREAM_ENGINE=faust) against the real broker and Redis:
the same events applied once, the same dead letters with their reasons."""

from __future__ import annotations

from pathlib import Path

import redis
from kafka import KafkaProducer

from ingest.settings import Settings
from ingest.topics import ensure_topics
from stream.redis_store import RedisFeatureStore
from tests.integration.test_kafka import consume_all, event
from tests.processes import settings_env, streamrec_process, wait_for


def test_faust_engine_applies_once_and_dead_letters(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    valid = [event(f"f{n}", f"user-{n % 3}", f"item-{n % 5}", ts=2000 + n) for n in range(30)]
    invalid = [b"\xff not utf-8", b'{"event_id": "x"}']
    for item in valid + valid[:5]:  # five delivered twice
        producer.send(settings.events_topic, key=item.user_id.encode(), value=item.to_json_bytes())
    for bad in invalid:
        producer.send(settings.events_topic, key=b"user-0", value=bad)
    producer.flush()
    producer.close()

    store = RedisFeatureStore(redis_client, settings.key_prefix)
    faust_settings = settings.model_copy(update={"stream_engine": "faust"})
    log = tmp_path / "faust-worker.log"
    with streamrec_process(["stream"], settings_env(faust_settings), log) as worker:
        wait_for(lambda: sum(store.stats().values()) >= 35, 90, "the faust worker to apply", log)
        dead = consume_all(settings, settings.dlq_topic, expected=len(invalid))
        assert worker.poll() is None, "bad input must never stop the worker"

    assert store.stats() == {"applied": 30, "duplicates": 5}
    assert sum(len(items) for _, items in store.iter_user_items()) == 15  # 3 users x 5 items
    codes = {record.value: dict(record.headers)["dlq.reason.code"].decode() for record in dead}
    assert codes == {invalid[0]: "undecodable", invalid[1]: "schema"}
    assert "[^Worker]: Starting" in log.read_text(errors="replace")  # faust's (mode's) worker ran
