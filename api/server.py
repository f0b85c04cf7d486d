"""Run the API under gunicorn (gthread workers, one CPU each, taking turns to accept), configured
from Settings.

The app is preloaded: gunicorn's master creates it and loads the model and catalogue before it
forks, so the workers share those pages and none pays the first load on a request. Connections
(Kafka, Redis) are still made per worker, after the fork. ``kill -HUP <master>`` replaces the
workers gracefully (new settings, same code); new models need no reload at all (LATEST is
polled). Metrics of all workers are added up through files (prometheus multiprocess mode).
"""

from __future__ import annotations

import gc
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from threadpoolctl import threadpool_limits

from api import create_app
from api.affinity import assign_cpu, pin_worker
from api.backends import EXTENSION_KEY, backends
from api.metrics import enable_multiprocess, mark_worker_dead
from ingest.settings import Settings

# gthread taking turns to accept (api.balance); named, not imported: gunicorn's master loads it
BALANCED_WORKER = "api.balance.BalancedThreadWorker"

log = logging.getLogger(__name__)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """Return the gunicorn settings the API runs with."""
    host = f"[{settings.api_host}]" if ":" in settings.api_host else settings.api_host
    pinning = {"pre_fork": assign_cpu, "post_fork": pin_worker} if settings.api_pin_workers else {}
    return {
        "bind": f"{host}:{settings.api_port}",
        "workers": settings.api_workers,
        "worker_class": BALANCED_WORKER if settings.api_balance_connections else "gthread",
        "threads": settings.api_threads,
        "preload_app": True,
        "keepalive": 5,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,  # the app writes its own JSON access log (api.observability)
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "streamrec-api",
        "worker_exit": close_worker_app,
        "child_exit": forget_worker,
        **pinning,  # one CPU per worker (api.affinity)
    }


def close_worker_app(server: Any, worker: Any) -> None:
    """Close what the exiting worker's app connected (gunicorn ``worker_exit`` hook)."""
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask) and EXTENSION_KEY in app.extensions:
        backends(app).close()


def forget_worker(server: Any, worker: Any) -> None:
    """Drop a dead worker's live metrics (gunicorn ``child_exit`` hook, in the master)."""
    mark_worker_dead(worker.pid)


def preload(app: Flask) -> Flask:
    """Load the model and the catalogue now, in the process that will fork the workers."""
    # One BLAS thread per process: the workers and their threads already use every core, and
    # OpenBLAS's own threads make a 20,000 x 64 product ~15x slower here (8 ms, not 0.5 ms).
    threadpool_limits(limits=1, user_api="blas")
    deps = backends(app)
    model = deps.models.get().current()
    deps.catalogue.get()
    log.info("preloaded model %s", model.version if model else "(none published yet)")
    # What the master built (the model's 20,000-id index among it) outlives every worker: out of
    # the collector's sight, a worker's full collections neither walk it nor write to its pages
    # (which would copy them, one copy per worker).
    gc.freeze()
    return app


def metrics_directory(settings: Settings) -> Path:
    """Return where the workers share their metrics: the setting, or a new temporary dir."""
    if settings.metrics_dir is not None:
        return settings.metrics_dir
    return Path(tempfile.mkdtemp(prefix="streamrec-metrics-"))


class StreamrecGunicorn(BaseApplication):
    """gunicorn run from code, serving ``create_app(settings)`` (or another app factory)."""

    def __init__(self, settings: Settings, options: dict[str, Any], factory: Any = None) -> None:
        self.settings = settings
        self.options = options
        self.factory = factory or (lambda: preload(create_app(settings)))
        super().__init__()

    def load_config(self) -> None:
        """Apply the options to gunicorn's config."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Create the WSGI app (in the master when preloading; nothing connects until used)."""
        app: Flask = self.factory()
        return app


def serve(settings: Settings) -> None:
    """Serve the API until gunicorn is told to stop (blocks)."""
    directory = metrics_directory(settings)
    enable_multiprocess(directory)
    try:
        StreamrecGunicorn(settings, gunicorn_options(settings)).run()
    finally:
        if settings.metrics_dir is None:
            shutil.rmtree(directory, ignore_errors=True)
