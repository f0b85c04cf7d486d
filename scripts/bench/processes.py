"""Processes the API benchmark starts and watches: a Redis of its own, ports, CPU time of a tree."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis


def free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn gracefully."""
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def own_redis() -> Iterator[str | None]:
    """Run a redis-server of our own (no persistence) on a free port; yield its URL or None."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                break
            except redis.ConnectionError:  # still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _process_table() -> dict[int, tuple[int, float]]:
    """Return {pid: (parent pid, CPU seconds used so far)} of every live process."""
    table = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


def child_pids(pid: int) -> list[int]:
    """Return the pids of ``pid``'s live children (a gunicorn master's workers)."""
    return sorted(child for child, (parent, _) in _process_table().items() if parent == pid)


def established_connections(pids: list[int], port: int) -> list[int]:
    """Return how many TCP connections each process holds established on its local ``port``."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                for row in list(rows)[1:]:
                    fields = row.split()  # sl, local address, remote address, state, ..., inode
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        sockets.add(f"socket:[{fields[9]}]")
        except OSError:  # no IPv6 here
            continue
    counts = []
    for pid in pids:
        held = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                held += os.readlink(f"/proc/{pid}/fd/{fd}") in sockets
            except OSError:  # closed meanwhile
                continue
        counts.append(held)
    return counts


def tree_cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) used so far by ``pid`` and its live descendants."""
    table = _process_table()
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, (ppid, _) in table.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(table[member][1] for member in tree if member in table)
