"""Private Kafka and Redis for the fault scenarios, which kill them (never the shared ones).

Each service runs from the project's own scripts (scripts/kafka.sh, scripts/redis.sh,
scripts/kafka_cluster.sh) on ports of its own, with its state under the test's tmp dir, and is
stopped when the ``with`` block ends. Also: the resident memory of processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from ingest.settings import ENV_PREFIX, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def script_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a provisioning script: no STREAMREC_* but ours (no external service)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    return {**env, "STREAMREC_STATE_DIR": str(state_dir), **extra}


def run_script(script: str, args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    """Run one of scripts/*.sh; fail with its output if it fails."""
    done = subprocess.run(
        ["bash", str(SCRIPTS / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def pid_in(pid_file: Path) -> int | None:
    """The pid a script recorded, if that process is alive."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


class PrivateKafka:
    """A single KRaft broker of our own (scripts/kafka.sh) that a scenario may SIGKILL."""

    def __init__(self, state_dir: Path, jvm_options: str = "") -> None:
        self.port, self.controller_port = free_port(), free_port()
        self.env = script_env(
            state_dir,
            STREAMREC_KAFKA_PORT=str(self.port),
            STREAMREC_KAFKA_CONTROLLER_PORT=str(self.controller_port),
            KAFKA_OPTS=jvm_options,
        )
        self.pid_file = state_dir / "kafka" / "kafka.pid"
        self.bootstrap = f"127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start the broker (again, after a kill: same data); return the seconds it took."""
        started = time.monotonic()
        run_script("kafka.sh", ["start"], self.env)
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL the broker, as a crash or an OOM kill would, and wait until it is gone."""
        pid = pid_in(self.pid_file)
        assert pid is not None, "the private broker is not running"
        kill_and_wait(pid)

    def pid(self) -> int | None:
        """The broker's pid, if it runs."""
        return pid_in(self.pid_file)

    def stop(self) -> None:
        """Stop the broker (controlled shutdown)."""
        run_script("kafka.sh", ["stop"], self.env)


class PrivateRedis:
    """A Redis of our own (scripts/redis.sh, AOF on) that a scenario may kill or freeze."""

    def __init__(self, state_dir: Path) -> None:
        self.port = free_port()
        self.env = script_env(state_dir, STREAMREC_REDIS_PORT=str(self.port))
        self.pid_file = state_dir / "redis" / "redis.pid"
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> float:
        """Start Redis (again: it reloads its AOF); return the seconds it took."""
        started = time.monotonic()
        run_script("redis.sh", ["start"], self.env)
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL Redis (what it acknowledged is in the AOF file already)."""
        pid = pid_in(self.pid_file)
        assert pid is not None, "the private Redis is not running"
        kill_and_wait(pid)

    def freeze(self) -> None:
        """SIGSTOP Redis: it keeps its port but answers nothing (unreachable, not refused)."""
        os.kill(self._pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT a frozen Redis."""
        os.kill(self._pid(), signal.SIGCONT)

    def pid(self) -> int | None:
        """Redis's pid, if it runs."""
        return pid_in(self.pid_file)

    def _pid(self) -> int:
        pid = pid_in(self.pid_file)
        assert pid is not None, "the private Redis is not running"
        return pid

    def stop(self) -> None:
        """Stop Redis (thawed first, should a failed test have left it frozen)."""
        pid = pid_in(self.pid_file)
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        run_script("redis.sh", ["stop"], self.env)


class KafkaCluster:
    """Three brokers on loopback (scripts/kafka_cluster.sh): RF 3, min.insync.replicas 2."""

    def __init__(self, state_dir: Path) -> None:
        self.first_port = free_port_block(3)
        self.env = script_env(state_dir, STREAMREC_KAFKA_CLUSTER_PORT=str(self.first_port))
        self.bootstrap = ",".join(f"127.0.0.1:{self.first_port + n}" for n in range(3))
        self.state_dir = state_dir / "kafka-cluster"

    def start(self) -> float:
        """Start every node and wait until all three serve; return the seconds it took."""
        started = time.monotonic()
        run_script("kafka_cluster.sh", ["start"], self.env, timeout=240)
        return time.monotonic() - started

    def kill(self, node: int) -> float:
        """SIGKILL one node; return the seconds until the others had fenced it."""
        started = time.monotonic()
        run_script("kafka_cluster.sh", ["kill", str(node)], self.env)
        return time.monotonic() - started

    def restart(self, node: int) -> float:
        """Start a killed node again; return the seconds until it served."""
        started = time.monotonic()
        run_script("kafka_cluster.sh", ["restart", str(node)], self.env, timeout=240)
        return time.monotonic() - started

    def pids(self) -> list[int]:
        """The pids of the running nodes."""
        found = [pid_in(self.state_dir / f"node-{n}" / "kafka.pid") for n in (1, 2, 3)]
        return [pid for pid in found if pid is not None]

    def stop(self) -> None:
        """Stop every node."""
        run_script("kafka_cluster.sh", ["stop"], self.env, timeout=120)


def free_port_block(size: int) -> int:
    """The first of ``size`` consecutive free ports (and their controllers, 100 higher)."""
    for _ in range(50):
        first = free_port()
        wanted = [first + n for n in range(size)] + [first + 100 + n for n in range(size)]
        if all(wanted_port_free(port) for port in wanted) and first + 100 + size < 65535:
            return first
    raise AssertionError("no block of free ports found")


def wanted_port_free(port: int) -> bool:
    """Whether nothing listens on this loopback port."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def kill_and_wait(pid: int) -> None:
    """SIGKILL a process we recorded and wait until it is gone."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)


@contextmanager
def running(service: PrivateKafka | PrivateRedis | KafkaCluster) -> Iterator[float]:
    """Start a private service for the ``with`` block; always stop it afterwards."""
    try:
        yield service.start()
    finally:
        service.stop()


def rss_mib(pid: int) -> float:
    """Resident memory of one process, in MiB."""
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def process_tree(pid: int) -> list[int]:
    """A process and its children (gunicorn's master and its workers)."""
    parent = psutil.Process(pid)
    return [pid, *(child.pid for child in parent.children(recursive=True))]


def private_settings(
    name: str, kafka_bootstrap: str, redis_url: str, tmp_path: Path, **overrides: object
) -> Settings:
    """Settings pointing every process at private services, with topics and keys named `name`."""
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=redis_url,
        events_topic=f"watch-events-{name}",
        dlq_topic=f"watch-events-dlq-{name}",
        stream_group_id=f"streamrec-stream-{name}",
        key_prefix=name.replace("-", ""),
        model_dir=tmp_path / "models",
        topic_partitions=6,
        stream_metrics_port=0,
        api_port=free_port(),
        access_log=False,
        **overrides,
    )
