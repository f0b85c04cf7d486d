"""`make bench` step "api-load": the API under gunicorn at fixed request rates, beside a bare Flask
endpoint served through the same gunicorn config (the framework's ceiling), on this machine.

Data: a model of 20,000 items x 64 random factors and 2,000 synthetic users with 30 events each,
in a Redis server of the benchmark's own (``redis-server`` on a free port, no persistence; other
work's Redis traffic would otherwise block it for tens of ms at a time), or with
``--shared-redis`` under a private prefix of the configured one. Traffic: GET
/v1/users/<random user>/recommendations?k=10 (``loadgen``), on the same 2 cores as the server.

    .venv/bin/python scripts/bench/bench_api.py [--seconds 10] [--no-sweep] [--shared-redis]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from loadgen import (  # noqa: E402
    CONNECTIONS,
    TARGET_P99_MS,
    TARGET_RATE,
    Run,
    fixed_rate,
)
from processes import (  # noqa: E402
    child_pids,
    established_connections,
    free_port,
    own_redis,
    stop_server,
    tree_cpu_seconds,
)
from report import median, percentile, write_section  # noqa: E402

from ingest.schema import WatchEvent  # noqa: E402
from ingest.settings import ENV_PREFIX, Settings, load_settings  # noqa: E402
from recommender.artifacts import save_model  # noqa: E402
from recommender.clock import format_rfc3339, new_version, utc_now  # noqa: E402
from recommender.model import Model  # noqa: E402
from stream.features import feature_update  # noqa: E402
from stream.redis_store import connect_redis, redis_feature_store  # noqa: E402

N_ITEMS, N_FACTORS, N_USERS, EVENTS_PER_USER = 20_000, 64, 2_000, 30
TARGET_RUNS = 3  # the target rate is run this many times: one 10 s run is one draw of the noise
API_RATES = (250, 500) + (TARGET_RATE,) * TARGET_RUNS + (0,)  # 0: closed loop (capacity)
UNPINNED_RATES = (TARGET_RATE, 0)  # the same API with its workers free to move between CPUs
UNBALANCED_RATES = (TARGET_RATE,) * TARGET_RUNS  # the same API, the kernel spreading connections
BARE_RATES = (1500, 2000, 0)
SWEEP = ((2, 1), (2, 2), (2, 4), (3, 2), (4, 1), (4, 2))


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


def measure(settings: Settings, bare: bool, paths: list[str], rates: tuple[int, ...],
            seconds: float, log: Path) -> list[Run]:  # fmt: skip
    """Start one server, warm it up, run each rate, stop it."""
    process = start_server(settings, bare, log)
    try:
        fixed_rate(settings.api_port, paths, 300, 2.0)  # warm-up: connections, caches, model
        runs = []
        workers = child_pids(process.pid)
        for rate in rates:
            # Which worker holds the load generator's connections (opened anew for each row),
            # looked at once in the middle of the row: the split decides the latency.
            split: list[int] = []

            def look_at(into: list[int] = split) -> None:
                into.extend(established_connections(workers, settings.api_port))

            look = threading.Timer(seconds / 2, look_at)
            cpu = tree_cpu_seconds(process.pid)
            look.start()
            run = fixed_rate(settings.api_port, paths, rate, seconds)
            look.join()
            answers = max(len(run.latencies_ms), 1)
            cpu_ms = (tree_cpu_seconds(process.pid) - cpu) * 1000 / answers
            shares = "/".join(str(n) for n in sorted(split, reverse=True))
            runs.append(dataclasses.replace(run, server_cpu_ms=cpu_ms, connections=shares))
        return runs
    finally:
        stop_server(process)


def main() -> int:
    """Build the data, measure the API and the bare app (and configs), write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-sweep", action="store_true", help="skip comparing workers x threads")
    parser.add_argument("--shared-redis", action="store_true", help="use the configured Redis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as temp, own_redis() as url:
        overrides = {"redis_url": url} if url and not args.shared_redis else {}
        base = load_settings(
            key_prefix=f"benchapi{uuid.uuid4().hex[:8]}",
            model_dir=Path(temp) / "models",
            metrics_dir=Path(temp) / "metrics",
            api_port=free_port(),
            **overrides,
        )
        make_model(base.model_dir)
        users = seed_users(base)
        paths = [f"/v1/users/{user}/recommendations?k=10" for user in users]
        log = Path(temp) / "server.log"
        redis = "its own Redis server" if overrides else "the shared Redis (private prefix)"
        try:
            body = report(base, paths, args.seconds, not args.no_sweep, log, redis)
        finally:
            client = connect_redis(base.redis_url, 5)
            for key in client.scan_iter(match=f"{base.key_prefix}:*", count=1000):
                client.delete(key)
    write_section("api-load", "API under load (GET recommendations, gunicorn)", body)
    print(body)
    return 0


def median_p99(runs: list[Run]) -> float:
    """Return the median over runs of each run's p99 latency (ms)."""
    return median([percentile(run.latencies_ms, 99) for run in runs])


def cpu_bound(api: Run, bare: Run) -> str:
    """Say what the CPU time per answer implies for the capacity on this machine's cores."""
    cores = os.cpu_count() or 1
    most = cores * 1000 / api.server_cpu_ms if api.server_cpu_ms else float("inf")
    return (
        f"Server CPU per answer at capacity: API {api.server_cpu_ms:.2f} ms, bare Flask "
        f"{bare.server_cpu_ms:.2f} ms: with all {cores} cores to themselves the API's processes "
        f"could answer at most ~{most:.0f} req/s, before the load generator and Redis take their "
        f"share (target: {TARGET_RATE} req/s)."
    )


HEAD = (
    "| server | target req/s | achieved req/s | p50 ms | p95 ms | p99 ms | server CPU ms/answer "
    "| errors | degraded | connections per worker | load |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def report(
    base: Settings, paths: list[str], seconds: float, sweep: bool, log: Path, redis: str
) -> str:
    """Run the measurements and render the section's markdown."""
    config = f"{base.api_workers} workers x {base.api_threads} threads"
    api_runs = measure(base, False, paths, API_RATES, seconds, log)
    unpinned = base.model_copy(update={"api_pin_workers": False})
    unpinned_runs = measure(unpinned, False, paths, UNPINNED_RATES, seconds, log)
    unbalanced = base.model_copy(update={"api_balance_connections": False})
    unbalanced_runs = measure(unbalanced, False, paths, UNBALANCED_RATES, seconds, log)
    bare_runs = measure(base, True, paths, BARE_RATES, seconds, log)
    rows = [run.row(f"API ({config})") for run in api_runs]
    rows += [run.row(f"API ({config}), workers not pinned") for run in unpinned_runs]
    rows += [run.row(f"API ({config}), connections not balanced") for run in unbalanced_runs]
    rows += [run.row(f"bare Flask ({config})") for run in bare_runs]
    targets = [run for run in api_runs if run.rate == TARGET_RATE]
    met = sum(run.meets_target() for run in targets)
    verdict = (
        f"{'met' if met * 2 > len(targets) else 'NOT met'} ({met} of {len(targets)} runs of "
        f"{TARGET_RATE} req/s met it; median p99 {median_p99(targets):.1f} ms)"
    )
    unpinned_target = next(run for run in unpinned_runs if run.rate == TARGET_RATE)
    unpinned_verdict = "met" if unpinned_target.meets_target() else "not met"
    unbalanced_met = sum(run.meets_target() for run in unbalanced_runs)
    capacity, ceiling = (runs[-1].achieved for runs in (api_runs, bare_runs))
    text = (
        f"{N_ITEMS:,} items x {N_FACTORS} factors, {N_USERS:,} users x {EVENTS_PER_USER} events in "
        f"{redis}; GET recommendations k=10 for random users, {CONNECTIONS} keep-alive "
        f'connections, open-loop fixed rate for {seconds:.0f} s per row ("max": closed loop), '
        "load generator on the same machine. JSON access log and metrics on. Each gunicorn "
        "worker runs on a CPU of its own (`STREAMREC_API_PIN_WORKERS`, the default); the rows "
        f"'workers not pinned' are the same server without it (target {unpinned_verdict} "
        "there). The workers take turns accepting connections (`STREAMREC_API_BALANCE_CONNECTIONS`"
        ", the default), so that the load generator's connections, opened anew for each row, "
        "split evenly between them; 'connections not balanced' is the same server leaving that "
        f"to the kernel (target met in {unbalanced_met} of {len(unbalanced_runs)} runs there). "
        "`degraded`: "
        "answers given without Redis after a Redis timeout (cheaper; they do not count towards "
        "the target). `server CPU ms/answer`: CPU time (user + system) of the gunicorn master "
        "and workers over the row, per answer, which other work on the machine changes little. "
        "`load`: 1-minute load average at the end of the row; the machine is shared, and other "
        "work running at the same time lowers every throughput and latency figure. "
        f"Target ({TARGET_RATE} req/s with p99 <= {TARGET_P99_MS:.0f} ms): **{verdict}**. "
        f"Capacity, same run: API {capacity:.0f} req/s = **{capacity / ceiling:.0%}** of the bare "
        f"Flask ceiling ({ceiling:.0f} req/s). {cpu_bound(api_runs[-1], bare_runs[-1])}\n\n"
        + HEAD
        + "\n".join(rows)
        + "\n"
    )
    if sweep:
        text += "\ngunicorn workers x threads, API capacity (closed loop):\n\n" + HEAD
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
