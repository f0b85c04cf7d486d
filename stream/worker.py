"""Running the stream worker process."""

from __future__ import annotations

import faust

from ingest.settings import Settings
from ingest.topics import ensure_topics
from stream.app import create_stream_app
from stream.redis_store import redis_feature_store


def run_worker(settings: Settings) -> None:
    """Create the topics, then consume watch events into Redis until stopped (SIGINT/SIGTERM)."""
    ensure_topics(settings)
    store = redis_feature_store(settings)
    store.ping()
    app = create_stream_app(settings, store)
    worker = faust.Worker(app, loglevel=settings.log_level.lower())
    worker.execute_from_commandline()
