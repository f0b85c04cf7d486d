"""Running the stream worker process: the one place that wires Kafka, Redis and metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from ingest.settings import Settings
from ingest.topics import ensure_topics
from stream.consumer import StreamWorker
from stream.metrics import WorkerMetrics
from stream.redis_store import redis_feature_store
from stream.store import FeatureStore

logger = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Create the topics, then consume watch events into Redis until SIGINT/SIGTERM."""
    ensure_topics(settings)
    store = redis_feature_store(settings)
    store.ping()
    if settings.stream_engine == "faust":
        run_faust_worker(settings, store)
        return
    metrics = WorkerMetrics()
    serve_metrics(metrics, settings.stream_metrics_host, settings.stream_metrics_port)
    # What start-up allocated (modules, schemas, clients) lives as long as the process: frozen,
    # the cyclic GC's full collections skip it (~18 ms per collection here, a latency spike).
    gc.freeze()
    asyncio.run(_run_until_signalled(StreamWorker(settings, store, metrics)))


def serve_metrics(metrics: WorkerMetrics, host: str, port: int) -> None:
    """Serve /metrics on host:port (0: off); a busy port costs the metrics, not the events."""
    if not port:
        return
    try:
        metrics.serve(host, port)
    except OSError as exc:
        logger.error("metrics endpoint %s:%d unavailable (%s); running without it", host, port, exc)
        return
    logger.info("metrics on http://%s:%d/metrics", host, port)


def run_faust_worker(settings: Settings, store: FeatureStore) -> None:
    """Run the faust-streaming engine until SIGINT/SIGTERM (faust handles the signals)."""
    import faust

    from stream.faust_app import create_stream_app

    app = create_stream_app(settings, store)
    faust.Worker(app, loglevel=settings.log_level.lower()).execute_from_commandline()


async def _run_until_signalled(worker: StreamWorker) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, worker.stop)
    await worker.run()
