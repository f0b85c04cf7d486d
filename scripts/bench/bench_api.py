"""`make bench` step "api-load": the API under gunicorn at fixed request rates, beside a bare Flask
endpoint served through the same gunicorn config (the framework's ceiling), on this machine.

Data: a model of 20,000 items x 64 random factors and 2,000 synthetic users with 30 events each
in a private Redis prefix. Traffic: GET /v1/users/<random user>/recommendations?k=10. The load
generator (threads, raw keep-alive sockets) is open-loop: request n of a connection is due at
start + n / rate and its latency counts from then, so a server that falls behind cannot hide its
queue (no coordinated omission). It runs on the same 2 cores as the server.

    .venv/bin/python scripts/bench/bench_api.py [--seconds 10] [--no-sweep]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from report import percentile, write_section  # noqa: E402

from ingest.schema import WatchEvent  # noqa: E402
from ingest.settings import ENV_PREFIX, Settings, load_settings  # noqa: E402
from recommender.artifacts import save_model  # noqa: E402
from recommender.clock import format_rfc3339, new_version, utc_now  # noqa: E402
from recommender.model import Model  # noqa: E402
from stream.features import feature_update  # noqa: E402
from stream.redis_store import connect_redis, redis_feature_store  # noqa: E402

N_ITEMS, N_FACTORS, N_USERS, EVENTS_PER_USER = 20_000, 64, 2_000, 30
API_RATES = (250, 500, 1500, 0)  # 0: closed loop, as fast as the server answers (capacity)
BARE_RATES = (1500, 2000, 0)
TARGET_RATE, TARGET_P99_MS = 1500, 20.0
CONNECTIONS = 32
SWEEP = ((1, 8), (2, 2), (2, 4), (2, 8), (3, 4), (4, 2))


@dataclass(frozen=True)
class Run:
    """What one fixed-rate run measured."""

    rate: int
    sent: int
    errors: int
    degraded: int  # answered without Redis (it timed out): cheaper, so counted apart
    seconds: float
    latencies_ms: list[float]

    def row(self, name: str) -> str:
        """Render one markdown table row: rate, throughput, p50/p95/p99, errors."""
        got = len(self.latencies_ms) / self.seconds
        p50, p95, p99 = (percentile(self.latencies_ms, q) for q in (50, 95, 99))
        rate = str(self.rate) if self.rate else "max (closed loop)"
        cells = [name, rate, f"{got:.0f}", f"{p50:.2f}", f"{p95:.2f}", f"{p99:.2f}"]
        return "| " + " | ".join([*cells, str(self.errors), str(self.degraded)]) + " |"

    def meets_target(self) -> bool:
        """Tell whether this run met the throughput and p99 target."""
        achieved = len(self.latencies_ms) / self.seconds >= 0.99 * self.rate
        fine = not self.errors and not self.degraded
        return achieved and fine and percentile(self.latencies_ms, 99) <= TARGET_P99_MS


def make_model(model_dir: Path, seed: int = 42) -> Model:
    """Publish a model of random factors (what scoring costs does not depend on their values)."""
    rng = np.random.default_rng(seed)
    factors = (rng.standard_normal((N_ITEMS, N_FACTORS)) / np.sqrt(N_FACTORS)).astype(np.float32)
    item_ids = np.array([f"item-{n}" for n in range(N_ITEMS)])
    version = new_version(utc_now())
    metadata = {
        "version": version,
        "trained_at": format_rfc3339(utc_now()),
        "algorithm": "als",
        "params": {"factors": N_FACTORS, "regularization": 0.05, "alpha": 2.0, "iterations": 15},
        "n_users": N_USERS,
        "n_items": N_ITEMS,
        "popular_items": [[f"item-{n}", float(1000 - n)] for n in range(100)],
    }
    model = Model(version, item_ids, factors, metadata)
    save_model(model, model_dir, keep=2)
    return model


def seed_users(settings: Settings, seed: int = 42) -> list[str]:
    """Write N_USERS users' histories (Zipf-skewed items) to the private Redis prefix."""
    rng = random.Random(seed)
    store = redis_feature_store(settings)
    users = [f"user-{n}" for n in range(N_USERS)]
    updates = []
    for user in users:
        for n in range(EVENTS_PER_USER):
            item = f"item-{min(int(rng.paretovariate(1.1)), N_ITEMS) - 1}"
            event = WatchEvent(
                event_id=f"{user}-{n}",
                user_id=user,
                item_id=item,
                event_type=rng.choice(["view", "watch", "like"]),
                timestamp=1_764_000_000_000 + n,
            )
            updates.append(feature_update(event))
    for start in range(0, len(updates), 2000):
        store.apply(updates[start : start + 2000])
    return users


def child_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    for name, value in settings:
        if value is not None:
            env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
    return env


def start_server(settings: Settings, bare: bool, log: Path) -> subprocess.Popen[bytes]:
    """Start the API (or the bare app) under gunicorn; return once /healthz answers."""
    command = [sys.executable, __file__, "serve-bare"] if bare else [sys.executable, "-m"]
    command += [] if bare else ["ingest.cli", "api"]
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=child_env(settings), stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{settings.api_port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not start; see {log}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn gracefully."""
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_bare() -> None:
    """Serve a constant answer through the API's gunicorn config (run in a child process)."""
    from flask import Flask

    from api.server import StreamrecGunicorn, gunicorn_options

    def bare_app() -> Flask:
        app = Flask("bare")
        app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
        app.add_url_rule("/v1/users/<path:user_id>/recommendations", "r", lambda user_id: {"k": 1})
        return app

    settings = load_settings()
    StreamrecGunicorn(settings, gunicorn_options(settings), factory=bare_app).run()


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response with a Content-Length; return its status and body."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buffer[:] = rest[length:]
    return int(head.split(b" ", 2)[1]), rest[:length]


def fixed_rate(port: int, paths: list[str], rate: int, seconds: float) -> Run:
    """Send ``rate`` requests per second for ``seconds`` over CONNECTIONS keep-alive sockets.

    ``rate`` 0 sends each request as soon as the previous one on its connection was answered
    (closed loop): the throughput is then the server's capacity, latency counts from sending.
    """
    requests = [f"GET {p} HTTP/1.1\r\nHost: bench\r\n\r\n".encode() for p in paths]
    latencies: list[float] = []
    counts = {"sent": 0, "errors": 0, "degraded": 0}
    lock = threading.Lock()
    period = CONNECTIONS / rate if rate else 0.0
    start = time.perf_counter() + 0.2

    def connection(index: int) -> None:
        rng = random.Random(index)
        mine: list[float] = []
        sent = errors = degraded = 0
        sock, buffer = socket.create_connection(("127.0.0.1", port)), bytearray()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        due = start + index * period / CONNECTIONS
        while due < start + seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif not rate:
                due = time.perf_counter()
            try:
                sock.sendall(rng.choice(requests))
                sent += 1
                status, body = read_response(sock, buffer)
                ok = status == 200
                degraded += b'"degraded":true' in body
            except OSError:
                ok = False
                sock.close()
                sock, buffer = socket.create_connection(("127.0.0.1", port)), bytearray()
            if ok:
                mine.append((time.perf_counter() - due) * 1000)
            else:
                errors += 1
            due += period if rate else 0.0
            if not rate and time.perf_counter() >= start + seconds:
                break
        sock.close()
        with lock:
            latencies.extend(mine)
            counts["sent"] += sent
            counts["errors"] += errors
            counts["degraded"] += degraded

    threads = [threading.Thread(target=connection, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = max(seconds, time.perf_counter() - start)  # a server behind schedule takes longer
    return Run(rate, counts["sent"], counts["errors"], counts["degraded"], elapsed, latencies)


def measure(settings: Settings, bare: bool, paths: list[str], rates: tuple[int, ...],
            seconds: float, log: Path) -> list[Run]:  # fmt: skip
    """Start one server, warm it up, run each rate, stop it."""
    process = start_server(settings, bare, log)
    try:
        fixed_rate(settings.api_port, paths, 300, 2.0)  # warm-up: connections, caches, model
        return [fixed_rate(settings.api_port, paths, rate, seconds) for rate in rates]
    finally:
        stop_server(process)


def free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    """Build the data, measure the API and the bare app (and configs), write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-sweep", action="store_true", help="skip comparing workers x threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as temp:
        base = load_settings(
            key_prefix=f"benchapi{uuid.uuid4().hex[:8]}",
            model_dir=Path(temp) / "models",
            metrics_dir=Path(temp) / "metrics",
            api_port=free_port(),
        )
        make_model(base.model_dir)
        users = seed_users(base)
        paths = [f"/v1/users/{user}/recommendations?k=10" for user in users]
        log = Path(temp) / "server.log"
        try:
            body = report(base, paths, args.seconds, not args.no_sweep, log)
        finally:
            client = connect_redis(base.redis_url, 5)
            for key in client.scan_iter(match=f"{base.key_prefix}:*", count=1000):
                client.delete(key)
    write_section("api-load", "API under load (GET recommendations, gunicorn)", body)
    print(body)
    return 0


def report(base: Settings, paths: list[str], seconds: float, sweep: bool, log: Path) -> str:
    """Run the measurements and render the section's markdown."""
    head = "| server | target req/s | achieved req/s | p50 ms | p95 ms | p99 ms | errors |"
    head += " degraded |\n|---|---|---|---|---|---|---|---|\n"
    config = f"{base.api_workers} workers x {base.api_threads} threads"
    api_runs = measure(base, False, paths, API_RATES, seconds, log)
    bare_runs = measure(base, True, paths, BARE_RATES, seconds, log)
    rows = [run.row(f"API ({config})") for run in api_runs]
    rows += [run.row(f"bare Flask ({config})") for run in bare_runs]
    target = next(run for run in api_runs if run.rate == TARGET_RATE)
    verdict = "met" if target.meets_target() else "NOT met"
    text = (
        f"{N_ITEMS:,} items x {N_FACTORS} factors, {N_USERS:,} users x {EVENTS_PER_USER} events in "
        f"Redis; GET recommendations k=10 for random users, {CONNECTIONS} keep-alive connections, "
        f"open-loop fixed rate for {seconds:.0f} s per row, load generator on the same machine. "
        "JSON access log on. `degraded`: answers given without Redis after a Redis timeout "
        "(cheaper; they do not count towards the target). The machine is shared: other "
        "processes running at the same time lower every figure. "
        f"Target ({TARGET_RATE} req/s with p99 <= {TARGET_P99_MS:.0f} ms): "
        f"**{verdict}**.\n\n" + head + "\n".join(rows) + "\n"
    )
    if sweep:
        text += "\ngunicorn workers x threads, API capacity (closed loop):\n\n" + head
        for workers, threads in SWEEP:
            settings = base.model_copy(update={"api_workers": workers, "api_threads": threads})
            run = measure(settings, False, paths, (0,), seconds, log)[0]
            text += run.row(f"API ({workers} x {threads})") + "\n"
    return text


if __name__ == "__main__":
    if sys.argv[1:] == ["serve-bare"]:
        serve_bare()
    else:
        sys.exit(main())
