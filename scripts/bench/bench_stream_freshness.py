"""Stream freshness: time from the producer's acknowledgement to the feature readable in Redis.

One `streamrec stream` worker runs; a load process (this script with ``--load-rate``: an aiokafka
producer, acks=all, sending events made by string formatting every few milliseconds) keeps a
background load of 1,000 and then 10,000 events/s on the topic; meanwhile probe events (each a
new user) are published one at a time with acks=all, and Redis is polled every millisecond until
the probe's item weight is there. Latency = first poll that sees it - the acknowledgement.

The load generator is written for a low CPU cost: it shares the 2 cores with the worker, Redis
and the broker, and `streamrec replay --generate` (pydantic events, kafka-python) used ~64 µs
of CPU per event, most of a core at 10,000 events/s. Its CPU use is reported beside the results.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from bench_stream import LOG_DIR, delete_keys, process_cpu_seconds, worker_env
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from report import percentile, write_section

from ingest.schema import WatchEvent
from ingest.settings import Settings, load_settings
from ingest.topics import ensure_topics
from stream import keys
from stream.redis_store import RedisFeatureStore, redis_feature_store

LOADS = (1_000, 10_000)
VISIBLE_TIMEOUT_S = 5.0
GIVE_UP_AFTER = 5
LATE_S = 1e6  # stands for a probe that was never seen
COLUMNS = (
    "load asked (events/s)",
    "published",
    "applied",
    "probes",
    "p50 ms",
    "p99 ms",
    "late",
    "worker CPU",
    "load CPU",
    "machine load",
)
LOAD_TICK_S = 0.005  # the load process sends what is due this often (a smooth rate)
LOAD_TYPES = ("view", "view", "view", "watch", "watch", "like", "share", "skip")


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a streamrec command in the background with its output in a log file."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", *args], env=env, stdout=out, stderr=out
        )


def probe(producer: KafkaProducer, store: RedisFeatureStore, topic: str, n: int) -> float:
    """Publish one probe event, wait for its ack, poll Redis until visible; inf on a timeout."""
    user_id, item_id = f"probe-{uuid.uuid4().hex[:12]}", f"probe-item-{n}"
    event = WatchEvent(
        event_id=uuid.uuid4().hex,
        user_id=user_id,
        item_id=item_id,
        event_type="view",
        timestamp=int(time.time() * 1000),
    )
    key = keys.user_items_key(store.prefix, user_id)
    producer.send(topic, key=user_id.encode(), value=event.to_json_bytes()).get(timeout=10)
    acked = time.perf_counter()
    while not store.client.hexists(key, item_id):
        if time.perf_counter() - acked > VISIBLE_TIMEOUT_S:
            return math.inf
        time.sleep(0.001)
    return time.perf_counter() - acked


def published(consumer: KafkaConsumer, topic: str) -> int:
    """Messages on the topic so far (sum of the partitions' end offsets)."""
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    return sum(consumer.end_offsets(partitions).values())


def probe_under_load(
    producer: KafkaProducer, store: RedisFeatureStore, topic: str, probes: int
) -> list[float]:
    """Probe repeatedly; give up after a few probes in a row were not visible in time."""
    latencies: list[float] = []
    while len(latencies) < probes and latencies[-GIVE_UP_AFTER:].count(math.inf) < GIVE_UP_AFTER:
        latencies.append(probe(producer, store, topic, len(latencies)))
        time.sleep(random.uniform(0.005, 0.05))
    return latencies


def measure_load(
    settings: Settings, store: RedisFeatureStore, rate: int, probes: int, worker_pid: int
) -> dict:
    """Run background load at ``rate``; return probe latencies, rates and CPU shares achieved."""
    load = subprocess.Popen(
        [sys.executable, __file__, "--load-rate", str(rate), "--topic", settings.events_topic],
        stdout=(LOG_DIR / f"freshness-load-{rate}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    bootstrap = settings.kafka_bootstrap.split(",")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    offsets = KafkaConsumer(bootstrap_servers=bootstrap)
    topic = settings.events_topic
    try:
        time.sleep(3)  # let the load reach its rate
        cpu = process_cpu_seconds(load.pid), process_cpu_seconds(worker_pid)
        before = published(offsets, topic), store.stats()["applied"], time.perf_counter()
        latencies = probe_under_load(producer, store, topic, probes)
        after = published(offsets, topic), store.stats()["applied"], time.perf_counter()
        cpu = process_cpu_seconds(load.pid) - cpu[0], process_cpu_seconds(worker_pid) - cpu[1]
    finally:
        load.terminate()
        load.wait(30)
        producer.close()
    window = after[2] - before[2]
    drain(store, published(offsets, topic))
    offsets.close()
    return {
        "rate": rate,
        "published": (after[0] - before[0] - len(latencies)) / window,
        "applied": (after[1] - before[1] - len(latencies)) / window,
        "latencies": latencies,
        "load": os.getloadavg()[0],
        "load_cpu": cpu[0] / window,
        "worker_cpu": cpu[1] / window,
    }


async def generate_load(bootstrap: str, topic: str, rate: int) -> None:
    """Publish generated events at ``rate`` per second, smoothly, until killed."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=2)
    await producer.start()
    run, rng = uuid.uuid4().hex[:8], random.Random(7)
    sent, start = 0, time.perf_counter()
    try:
        while True:
            due = int(rate * (time.perf_counter() - start))
            now_ms = int(time.time() * 1000)
            for n in range(sent, due):
                user = f"user-{rng.randrange(20_000)}"
                value = (
                    f'{{"event_id":"load-{run}-{n}","user_id":"{user}",'
                    f'"item_id":"item-{rng.randrange(5_000)}",'
                    f'"event_type":"{rng.choice(LOAD_TYPES)}","timestamp":{now_ms}}}'
                )
                await producer.send(topic, value.encode(), key=user.encode())
            sent = due
            await asyncio.sleep(LOAD_TICK_S)
    finally:
        await producer.stop()


def drain(store: RedisFeatureStore, total: int, timeout_s: float = 180) -> None:
    """Wait until the worker applied everything published (before the next load level)."""
    deadline = time.monotonic() + timeout_s
    while store.stats()["applied"] < total and time.monotonic() < deadline:
        time.sleep(0.2)


def settings_overrides(settings: Settings) -> dict[str, object]:
    """The settings this bench changes, as overrides for child processes."""
    names = ("events_topic", "dlq_topic", "stream_group_id", "key_prefix", "topic_partitions")
    return {name: getattr(settings, name) for name in names} | {"stream_metrics_port": 0}


def row(result: dict) -> str:
    """One table row: load asked and achieved, probe latencies, CPU shares, machine load."""
    ms = milliseconds(result["latencies"])
    late = sum(1 for x in result["latencies"] if math.isinf(x))
    p50, p99 = (_ms(percentile(ms, q)) for q in (50, 99))
    return (
        f"| {result['rate']:,} | {result['published']:,.0f} | {result['applied']:,.0f} "
        f"| {len(ms)} | {p50} | {p99} | {late} | {result['worker_cpu']:.0%} "
        f"| {result['load_cpu']:.0%} | {result['load']:.1f} |"
    )


def milliseconds(latencies: list[float]) -> list[float]:
    """Latencies in ms, a late probe as a large finite value (percentiles stay defined)."""
    return [1000 * min(x, LATE_S) for x in latencies]


def _ms(value: float) -> str:
    return (
        f"> {VISIBLE_TIMEOUT_S * 1000:.0f}" if value > VISIBLE_TIMEOUT_S * 1000 else f"{value:.1f}"
    )


def report(results: list[dict]) -> str:
    """Render the BENCHMARKS.md section body."""
    p99_at_10k = percentile(milliseconds(results[-1]["latencies"]), 99)
    verdict = "met" if p99_at_10k <= 100 else "NOT met"
    return f"""
Producer acknowledgement (acks=all) to the probe's weight readable in Redis, through one
`streamrec stream` worker, under a smooth background load of R events/s (an aiokafka producer
sending every {LOAD_TICK_S * 1000:.0f} ms, acks=all, keyed by user, 20,000 users). Broker, Redis,
worker, load generator and prober share this 2-core machine. "Published" and "applied" are the
background events/s that reached the topic and Redis while probing; "worker CPU" and "load CPU"
the share of one core the worker and the load generator used meanwhile. A probe not visible after
{VISIBLE_TIMEOUT_S:.0f} s counts as late (and as infinite in the percentiles), and probing stops
after {GIVE_UP_AFTER} late probes in a row. Machine load: 1-minute load average at the end of the
measurement, other work on the machine (and on its shared Redis and broker) included.

| {" | ".join(COLUMNS)} |
|{"---|" * len(COLUMNS)}
{chr(10).join(row(r) for r in results)}

Target (issue 4: p99 ≤ 100 ms at 10,000 events/s): **{verdict}**.
"""


def main() -> int:
    """Start a worker on a fresh topic, probe freshness under each load, write BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=400)
    parser.add_argument("--load-rate", type=int, help="be the load process: events/s to --topic")
    parser.add_argument("--topic")
    args = parser.parse_args()
    if args.load_rate:
        asyncio.run(generate_load(load_settings().kafka_bootstrap, args.topic, args.load_rate))
        return 0
    name = uuid.uuid4().hex[:8]
    settings = load_settings(
        events_topic=f"bench-fresh-{name}",
        dlq_topic=f"bench-fresh-dlq-{name}",
        stream_group_id=f"bench-fresh-{name}",
        key_prefix=f"benchf{name}",
        topic_partitions=6,
    )
    ensure_topics(settings)
    store = redis_feature_store(settings)
    worker = start(
        ["stream"], worker_env(settings_overrides(settings)), LOG_DIR / "freshness-worker.log"
    )
    try:
        results = [measure_load(settings, store, rate, args.probes, worker.pid) for rate in LOADS]
    finally:
        worker.terminate()
        worker.wait(30)
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
        admin.delete_topics([settings.events_topic, settings.dlq_topic])
        admin.close()
        delete_keys(store.client, settings.key_prefix)
    body = report(results)
    print(body)
    write_section("stream-freshness", "Stream freshness (issue 4)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
