#!/usr/bin/env python3
"""Wait until a Kafka broker answers a real metadata request.

An open TCP port is not enough: a KRaft broker accepts connections before it has
registered with the controller and been unfenced, and clients that connect then
get empty metadata. So we ask for the cluster description and require at least one
broker in it (KRaft metadata lists only unfenced brokers).

Usage: wait_kafka.py --bootstrap 127.0.0.1:19092 [--timeout 90] [--pid BROKER_PID] [--brokers N]
Exit codes: 0 ready, 1 timed out (or --pid process exited), 2 kafka-python missing.
"""

import argparse
import logging
import os
import sys
import time

ATTEMPT_TIMEOUT_MS = 5000


def cluster_ready(bootstrap: str, timeout_ms: int, min_brokers: int = 1) -> str:
    """Return a one-line description of the cluster, or raise if it is not ready."""
    from kafka.admin import KafkaAdminClient

    config = dict(
        bootstrap_servers=bootstrap,
        client_id="streamrec-wait-kafka",
        request_timeout_ms=timeout_ms,
        # Retry a refused connection quickly: the default backoff grows to 30 s, which
        # would notice a broker that is up several seconds late.
        reconnect_backoff_max_ms=500,
    )
    # Cap each attempt so the outer loop can check the broker process is still alive.
    # kafka-python 3.x retries the bootstrap for bootstrap_timeout_ms (default 30 s);
    # 2.x calls it api_version_auto_timeout_ms and rejects unknown keys, so set what exists.
    for key in ("bootstrap_timeout_ms", "api_version_auto_timeout_ms"):
        if key in KafkaAdminClient.DEFAULT_CONFIG:
            config[key] = timeout_ms
    admin = KafkaAdminClient(**config)
    try:
        cluster = admin.describe_cluster()
        # DescribeCluster lists fenced brokers too (flagged): they do not serve yet.
        brokers = [b for b in cluster.get("brokers") or [] if not b.get("is_fenced")]
        if len(brokers) < min_brokers:
            raise RuntimeError(f"metadata lists {len(brokers)} of {min_brokers} brokers")
        topics = admin.list_topics()
        return f"cluster_id={cluster.get('cluster_id')} brokers={len(brokers)} topics={len(topics)}"
    finally:
        admin.close()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between tries")
    parser.add_argument("--pid", type=int, help="give up at once if this process exits")
    parser.add_argument("--brokers", type=int, default=1, help="wait until this many are unfenced")
    args = parser.parse_args()

    try:
        from kafka.errors import KafkaConfigurationError
    except ImportError:
        print(f"wait_kafka: kafka-python is not installed in {sys.executable}", file=sys.stderr)
        return 2
    # kafka-python logs every refused connection at ERROR; the retry loop is the expected path.
    logging.basicConfig(level=logging.CRITICAL)

    deadline = time.monotonic() + args.timeout
    attempt = 0
    last_error = "no attempt made"
    while True:
        if args.pid and not process_alive(args.pid):
            print(
                f"wait_kafka: broker process {args.pid} exited before {args.bootstrap} was ready",
                file=sys.stderr,
            )
            return 1
        attempt += 1
        try:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            attempt_ms = max(1000, min(ATTEMPT_TIMEOUT_MS, remaining_ms))
            info = cluster_ready(args.bootstrap, attempt_ms, args.brokers)
            print(f"wait_kafka: {args.bootstrap} ready after {attempt} attempt(s): {info}")
            return 0
        except KafkaConfigurationError:
            raise  # a bug in this script, not a broker that is still starting
        except Exception as exc:  # anything else just means "not ready yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() + args.interval >= deadline:
            break
        time.sleep(args.interval)
    print(
        f"wait_kafka: {args.bootstrap} not ready after {args.timeout:.0f}s "
        f"({attempt} attempts); last error: {last_error}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
