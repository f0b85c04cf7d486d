"""The load generator of the API benchmark: fixed-rate (open-loop) or closed-loop HTTP/1.1 GETs.

Threads over raw keep-alive sockets. Open loop: request n of a connection is due at
start + n / rate and its latency counts from then, so a server that falls behind cannot hide its
queue (no coordinated omission).
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from dataclasses import dataclass

from report import percentile

CONNECTIONS = 32
TARGET_RATE, TARGET_P99_MS = 1500, 20.0


@dataclass(frozen=True)
class Run:
    """What one fixed-rate run measured."""

    rate: int
    sent: int
    errors: int
    degraded: int  # answered without Redis (it timed out): cheaper, so counted apart
    seconds: float
    latencies_ms: list[float]
    load: float  # 1-minute load average at the end of the run (the machine is shared)
    server_cpu_ms: float = 0.0  # CPU time of the server's processes per answer (set by caller)
    connections: str = ""  # how the connections were split between the workers (set by caller)

    @property
    def achieved(self) -> float:
        """Return the answered requests per second."""
        return len(self.latencies_ms) / self.seconds

    def row(self, name: str) -> str:
        """Render one markdown table row: rate, throughput, p50/p95/p99, errors."""
        got = len(self.latencies_ms) / self.seconds
        p50, p95, p99 = (percentile(self.latencies_ms, q) for q in (50, 95, 99))
        rate = str(self.rate) if self.rate else "max (closed loop)"
        cells = [name, rate, f"{got:.0f}", f"{p50:.2f}", f"{p95:.2f}", f"{p99:.2f}"]
        cells += [f"{self.server_cpu_ms:.2f}", str(self.errors), str(self.degraded)]
        cells += [self.connections or "-", f"{self.load:.1f}"]
        return "| " + " | ".join(cells) + " |"

    def meets_target(self) -> bool:
        """Tell whether this run met the throughput and p99 target."""
        achieved = len(self.latencies_ms) / self.seconds >= 0.99 * self.rate
        fine = not self.errors and not self.degraded
        return achieved and fine and percentile(self.latencies_ms, 99) <= TARGET_P99_MS


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
    load = os.getloadavg()[0]
    return Run(rate, counts["sent"], counts["errors"], counts["degraded"], elapsed, latencies, load)
