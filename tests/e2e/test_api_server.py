"""The API as a real gunicorn server (2 workers, preloaded model): request ids, JSON access logs,
metrics added up across workers, the admin key, one CPU per worker, connections shared evenly
between the workers (also when one is stopped, and after a graceful reload), and a short locust
run of mixed traffic."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from api.affinity import allowed_cpus
from ingest.settings import load_settings
from recommender.artifacts import save_model
from recommender.matrix import build_user_items
from recommender.train import train_model
from scripts.bench.processes import established_connections
from tests.processes import settings_env, streamrec_process, wait_for
from tests.unit.conftest import tiny_store

KEY = "e2e-admin-key-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(isolated: dict[str, object], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Start ``streamrec api`` on a free port with a published model; yield its URL and log."""
    settings = load_settings(
        **isolated,
        api_port=free_port(),
        api_workers=2,
        api_threads=4,
        admin_api_key=KEY,
        metrics_dir=tmp_path / "metrics",
        model_check_seconds=0.5,
    )
    small = settings.model_copy(update={"als_factors": 4, "als_iterations": 10})
    save_model(
        train_model(build_user_items(tiny_store().iter_user_items()), small), settings.model_dir, 3
    )
    log = tmp_path / "api.log"
    base = f"http://127.0.0.1:{settings.api_port}"
    with streamrec_process(["api"], settings_env(settings), log):
        wait_for(lambda: _ready(base), 60, "the API to be ready", log)
        yield base, log


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_request_ids_logs_and_metrics_across_workers(server: tuple[str, Path]) -> None:
    base, log = server
    session = requests.Session()
    for n in range(40):
        response = session.get(
            f"{base}/v1/users/u{n % 12}/recommendations?k=3", headers={"X-Request-ID": f"e2e-{n}"}
        )
        assert response.status_code == 200 and response.headers["X-Request-ID"] == f"e2e-{n}"
    metrics = session.get(f"{base}/metrics").text
    route = 'route="/v1/users/<path:user_id>/recommendations",status="200"'
    line = next(
        li
        for li in metrics.splitlines()
        if li.startswith("streamrec_http_requests_total{") and route in li
    )
    assert float(line.rsplit(" ", 1)[1]) == 40  # every worker's answers, added up
    assert "streamrec_model_info{" in metrics
    entries = [json.loads(li) for li in log.read_text().splitlines() if li.startswith('{"time"')]
    logged = {e["request_id"] for e in entries if e.get("logger") == "streamrec.access"}
    assert {f"e2e-{n}" for n in range(40)} <= logged
    assert KEY not in log.read_text()


def test_admin_needs_the_key(server: tuple[str, Path]) -> None:
    base, _ = server
    assert requests.get(f"{base}/v1/model", timeout=5).json()["version"]
    assert requests.post(f"{base}/v1/admin/rollback", timeout=5).status_code == 401
    wrong = {"X-API-Key": KEY[:-1] + "x"}
    assert requests.post(f"{base}/v1/admin/rollback", headers=wrong, timeout=5).status_code == 401
    right = {"X-API-Key": KEY}
    response = requests.post(f"{base}/v1/admin/rollback", headers=right, timeout=5)
    assert response.status_code == 404  # one version only: nothing older to roll back to
    assert response.json()["error"]["code"] == "not_found"


LOCUST = Path(sys.executable).parent / "locust"


@pytest.mark.skipif(not LOCUST.exists(), reason="locust is not installed")
def test_locust_mixed_traffic_runs_without_failures(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base, _ = server
    csv = tmp_path / "locust"
    command = [str(LOCUST), "-f", str(REPO / "scripts" / "locustfile.py"), "--headless"]
    command += ["-u", "8", "-r", "8", "-t", "6s", "--host", base, "--csv", str(csv)]
    command += ["--only-summary", "--ids-users", "11", "--user-prefix", "u"]
    command += ["--ids-items", "4", "--item-prefix", "a"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = (tmp_path / "locust_stats.csv").read_text().splitlines()
    total = next(row for row in stats if ",Aggregated," in row).split(",")
    assert int(total[2]) > 20 and int(total[3]) == 0  # requests, failures


def _pinned_workers(log: Path) -> dict[int, int]:
    """Return {worker pid: CPU} from the workers' "pinned to CPU" log lines."""
    found = re.findall(r"worker (\d+) pinned to CPU (\d+)", log.read_text())
    return {int(pid): int(cpu) for pid, cpu in found}


@pytest.mark.skipif(len(allowed_cpus()) < 2, reason="pinning needs at least 2 CPUs")
def test_each_worker_runs_on_a_cpu_of_its_own(server: tuple[str, Path]) -> None:
    base, log = server
    # Ready means one worker answered; the other may still be starting.
    wait_for(lambda: len(_pinned_workers(log)) == 2, 30, "both workers pinned", log)
    pinned = _pinned_workers(log)
    assert len(set(pinned.values())) == 2  # 2 workers, 2 CPUs

    def threads(pid: int) -> list[int]:
        return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]

    def every_worker_has_request_threads() -> bool:  # gunicorn starts them on demand
        requests.get(f"{base}/v1/users/u1/recommendations", timeout=5).raise_for_status()
        return all(len(threads(pid)) > 1 for pid in pinned)

    wait_for(every_worker_has_request_threads, 30, "request threads in both workers", log)
    for pid, cpu in pinned.items():  # threads started after the pin inherit it
        assert {tid: os.sched_getaffinity(tid) for tid in threads(pid)} == dict.fromkeys(
            threads(pid), {cpu}
        )
    # A worker killed outright is replaced on the CPU it left, not beside the other worker.
    victim, freed = next(iter(pinned.items()))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(_pinned_workers(log)) == 3, 30, "a replacement worker", log)
    replacement = next(pid for pid in _pinned_workers(log) if pid not in pinned)
    assert _pinned_workers(log)[replacement] == freed
    assert os.sched_getaffinity(replacement) == {freed}


def _worker_pids(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", log.read_text())]


def _booted(server: tuple[str, Path]) -> tuple[int, list[int]]:
    """Wait until both workers of ``server`` booted; return its port and their pids."""
    base, log = server
    wait_for(lambda: len(_worker_pids(log)) == 2, 30, "both workers booted", log)
    return int(base.rsplit(":", 1)[1]), _worker_pids(log)


def _established(pid: int, port: int) -> int:
    """Count the TCP connections process ``pid`` holds established on its local ``port``."""
    return established_connections([pid], port)[0]


def _connect_and_ask(port: int) -> socket.socket:
    """Open a keep-alive connection and have one request on it answered (so it was accepted)."""
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: e2e\r\n\r\n")
    return _answered(client)


def _answered(client: socket.socket) -> socket.socket:
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = client.recv(65536)
        assert chunk, "the server closed the connection"
        answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += client.recv(65536)
    return client


counts_connections_in_proc = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="counts connections in /proc"
)


@counts_connections_in_proc
def test_keep_alive_connections_are_shared_evenly_between_workers(
    server: tuple[str, Path],
) -> None:
    base, _ = server
    port, workers = _booted(server)
    # Opened at once, as a client's connection pool does; the kernel queues them all, and
    # without turns one worker often took most of them (32/0, 9/23, 12/20 ...: api.balance).
    clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(32)]
    try:
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: e2e\r\n\r\n")
        for client in clients:
            _answered(client)
        split = {pid: _established(pid, port) for pid in workers}
        assert sum(split.values()) == 32 and max(split.values()) - min(split.values()) <= 2, split
        # Each worker reports its share (the /metrics request's own connection adds one).
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        found = re.findall(r'streamrec_http_open_connections\{pid="(\d+)"\} (\S+)', metrics)
        gauges = {int(pid): float(value) for pid, value in found}
        assert set(workers) <= set(gauges) and sum(gauges.values()) == 33, (gauges, split)
        assert all(split[pid] <= gauges[pid] <= split[pid] + 1 for pid in workers)  # (master: 0)
    finally:
        for client in clients:
            client.close()


@counts_connections_in_proc
def test_a_stopped_worker_does_not_hold_up_new_connections(server: tuple[str, Path]) -> None:
    port, (running, stopped) = _booted(server)
    clients = [_connect_and_ask(port), _connect_and_ask(port)]
    assert (_established(running, port), _established(stopped, port)) == (1, 1)
    os.kill(stopped, signal.SIGSTOP)  # it will accept nothing, and shows fewer connections
    try:
        for _ in range(3):  # the running worker steps aside, then takes each one after all
            started = time.monotonic()
            clients.append(_connect_and_ask(port))
            assert time.monotonic() - started < 2  # 50 ms of patience, not a keep-alive expiry
        assert (_established(running, port), _established(stopped, port)) == (4, 1)
    finally:
        os.kill(stopped, signal.SIGCONT)
        for client in clients:
            client.close()


@counts_connections_in_proc
def test_a_graceful_reload_shares_new_connections_between_the_new_workers(
    server: tuple[str, Path],
) -> None:
    _, log = server
    port, old = _booted(server)
    master = int(re.findall(r"Listening at: \S+ \((\d+)\)", log.read_text())[0])
    os.kill(master, signal.SIGHUP)  # new workers, then the old ones stop gracefully
    wait_for(lambda: len(_worker_pids(log)) == 4, 60, "two new workers", log)
    new = _worker_pids(log)[2:]
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in old), 30, "old gone", log)
    clients = [_connect_and_ask(port) for _ in range(8)]
    try:
        assert [_established(pid, port) for pid in new] == [4, 4]  # their slots, fresh counts
    finally:
        for client in clients:
            client.close()
