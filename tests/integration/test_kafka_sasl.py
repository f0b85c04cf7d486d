"""Every Kafka client over SASL, against a real broker of its own with a SASL_PLAINTEXT listener.

scripts/kafka.sh starts a private broker (its own ports and state directory, stopped afterwards)
with a SASL_PLAINTEXT listener (mechanism PLAIN) beside its PLAINTEXT one. The clients are given
only the SASL port: topic creation, the publisher, the readiness probe, and both stream engines
(the aiokafka worker with its dead-letter producer, and the faust app) as real processes. A
wrong password is refused. The broker's ports: STREAMREC_TEST_SASL_KAFKA_PORTS, else
29392-29394: below Linux's ephemeral range (32768-60999), where any client connection of the
test run could hold one of them when the broker binds.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kafka import KafkaProducer
from pydantic import SecretStr

from api.probes import KafkaProbe
from ingest.errors import Unavailable
from ingest.kafka_security import client_security
from ingest.publisher import kafka_publisher
from ingest.settings import ENV_PREFIX, Settings
from ingest.topics import ensure_topics
from stream.redis_store import RedisFeatureStore
from tests.conftest import REPO
from tests.integration.test_kafka import consume_all, event
from tests.processes import publish_all, settings_env, streamrec_process, wait_for

PORTS = [int(p) for p in os.environ.get("STREAMREC_TEST_SASL_KAFKA_PORTS", "").split(",") if p]
PLAINTEXT_PORT, CONTROLLER_PORT, SASL_PORT = PORTS or [29392, 29393, 29394]
USER = "streamrec-test"


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Start a private broker with a SASL listener; yield its SASL address and credentials."""
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is needed to run the private broker (scripts/kafka.sh)")
    password = secrets.token_hex(12)
    state = tmp_path_factory.mktemp("sasl-kafka")
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    env.update(
        STREAMREC_KAFKA_PORT=str(PLAINTEXT_PORT),
        STREAMREC_KAFKA_CONTROLLER_PORT=str(CONTROLLER_PORT),
        STREAMREC_KAFKA_SASL_PORT=str(SASL_PORT),
        STREAMREC_KAFKA_SASL_USERS=f"{USER}:{password}",
        STREAMREC_STATE_DIR=str(state),
    )
    if "STREAMREC_CACHE_DIR" in os.environ:  # where the Kafka jars are cached
        env["STREAMREC_CACHE_DIR"] = os.environ["STREAMREC_CACHE_DIR"]
    script = ["bash", str(REPO / "scripts" / "kafka.sh")]
    subprocess.run([*script, "start"], env=env, check=True, timeout=300)
    try:
        yield {
            "bootstrap": f"127.0.0.1:{SASL_PORT}",
            "password": password,
            "log": str(state / "kafka" / "logs" / "server.log"),
        }
    finally:
        subprocess.run([*script, "stop"], env=env, check=False, timeout=120)


@pytest.fixture
def sasl_settings(sasl_broker: dict[str, str], settings: Settings) -> Settings:
    """This test's settings, pointed at the SASL listener with the right credentials."""
    return Settings(
        **{
            **settings.model_dump(exclude_none=True),
            "kafka_bootstrap": sasl_broker["bootstrap"],
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "PLAIN",
            "kafka_sasl_username": USER,
            "kafka_sasl_password": sasl_broker["password"],
            "stream_metrics_port": 0,
            "topic_partitions": 2,
        }
    )


def publish_raw(settings: Settings, value: bytes) -> None:
    """Write one message that is not a valid event, over SASL."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", **client_security(settings)
    )
    try:
        producer.send(settings.events_topic, key=b"user-0", value=value).get(timeout=30)
    finally:
        producer.close()


def test_a_wrong_password_is_refused(sasl_settings: Settings, sasl_broker: dict[str, str]) -> None:
    wrong = sasl_settings.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
    probe = KafkaProbe(wrong.kafka_bootstrap, 5.0, security=client_security(wrong))
    with pytest.raises(Unavailable):
        probe.check()
    # kafka-python only sees the connection closed; the broker says why.
    broker_log = Path(sasl_broker["log"]).read_text(errors="replace")
    assert "Authentication failed: Invalid username or password" in broker_log
    publisher = kafka_publisher(wrong.model_copy(update={"kafka_request_timeout_seconds": 5.0}))
    try:
        with pytest.raises(Unavailable):
            publisher.publish([event("w1", "user-1", "item-1")])
    finally:
        publisher.close()


@pytest.mark.parametrize("engine", ["aiokafka", "faust"])
def test_topics_publisher_probe_and_worker_work_over_sasl(
    sasl_settings: Settings, redis_client: redis.Redis, tmp_path: Path, engine: str
) -> None:
    settings = sasl_settings.model_copy(update={"stream_engine": engine})
    assert sorted(ensure_topics(settings)) == sorted([settings.events_topic, settings.dlq_topic])
    KafkaProbe(settings.kafka_bootstrap, 5.0, security=client_security(settings)).check()
    publish_all(settings, [event(f"s{n}", f"user-{n % 2}", f"item-{n}") for n in range(6)])
    publish_raw(settings, b'{"event_id": "no user"}')

    store = RedisFeatureStore(redis_client, settings.key_prefix)
    log = tmp_path / f"{engine}-worker.log"
    with streamrec_process(["stream"], settings_env(settings), log) as worker:
        wait_for(lambda: store.stats().get("applied", 0) >= 6, 90, "the worker to apply", log)
        (dead,) = consume_all(settings, settings.dlq_topic, expected=1, timeout_s=60)
        assert worker.poll() is None
    assert dict(dead.headers)["dlq.reason.code"] == b"schema"
    assert sorted(item for _, items in store.iter_user_items() for item in items) == [
        f"item-{n}" for n in range(6)
    ]
