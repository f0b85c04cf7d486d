"""Prometheus metrics: latency per route, answers per status, the model served, service time,
open connections per worker.

Under gunicorn each worker is a process: ``enable_multiprocess`` (called by ``api.server``
before any worker starts) makes every process write its samples to files in one directory,
which ``/metrics`` adds up (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

bp = Blueprint("metrics", __name__)


class Metrics:
    """The API's metrics, registered once per process."""

    def __init__(self) -> None:
        self.requests = Counter(
            "streamrec_http_requests_total", "HTTP answers", ["method", "route", "status"]
        )
        self.latency = Histogram(
            "streamrec_http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            ["method", "route"],
            buckets=BUCKETS,
        )
        self.service = Histogram(
            "streamrec_recommend_duration_seconds",
            "Time in the recommendation service per call: feature read, fold-in and scoring",
            ["operation"],
            buckets=BUCKETS,
        )
        self.degraded = Counter(
            "streamrec_degraded_answers_total",
            "Answers given without Redis, from the model artifact alone",
            ["operation"],
        )
        self.model = Gauge(
            "streamrec_model_info",
            "1 for the model version a live worker serves",
            ["version"],
            multiprocess_mode="livemax",
        )
        self.connections = Gauge(
            "streamrec_http_open_connections",
            "Client connections a worker holds open (api.balance spreads them evenly)",
            multiprocess_mode="liveall",
        )
        self._served: str | None = None
        self._lock = threading.Lock()
        # Labelled children by label values: ``labels()`` validates and locks on every call.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._service_children: dict[str, Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP answer and its latency."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:  # a race only builds the same children twice
            children = (
                self.latency.labels(method, route),
                self.requests.labels(method, route, str(status)),
            )
            self._request_children[key] = children
        children[0].observe(seconds)
        children[1].inc()

    def observe_service(self, operation: str, seconds: float) -> None:
        """Note the time of one recommendation service call."""
        child = self._service_children.get(operation)
        if child is None:
            child = self._service_children[operation] = self.service.labels(operation)
        child.observe(seconds)

    def observe_model(self, version: str | None) -> None:
        """Note the model version this process serves (cheap when unchanged)."""
        if version == self._served:
            return
        with self._lock:
            if self._served is not None:
                self.model.labels(self._served).set(0)
            if version is not None:
                self.model.labels(version).set(1)
            self._served = version

    def observe_connections(self, count: int) -> None:
        """Note how many client connections this worker holds open."""
        self.connections.set(count)


_metrics: Metrics | None = None
_metrics_lock = threading.Lock()


def get_metrics() -> Metrics:
    """Return this process's metrics, registering them on first use."""
    global _metrics
    if _metrics is not None:  # every request asks: no lock once registered
        return _metrics
    with _metrics_lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics


def enable_multiprocess(directory: Path) -> None:
    """Make this process and its future children share samples through files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # left by an earlier server: its counts are not ours
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()


def mark_worker_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (gunicorn ``child_exit`` hook)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


@bp.get("/metrics")
def metrics() -> Response:
    """Expose every worker's metrics in the Prometheus text format."""
    directory = os.environ.get(MULTIPROC_ENV)
    registry: Any = REGISTRY
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
