"""Run the API under gunicorn (gthread workers), configured from Settings."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from api import create_app
from api.backends import backends
from ingest.settings import Settings


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """Return the gunicorn settings the API runs with."""
    host = f"[{settings.api_host}]" if ":" in settings.api_host else settings.api_host
    return {
        "bind": f"{host}:{settings.api_port}",
        "workers": settings.api_workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "streamrec-api",
        "worker_exit": close_worker_app,
    }


def close_worker_app(server: Any, worker: Any) -> None:
    """Close what the exiting worker's app connected (gunicorn ``worker_exit`` hook)."""
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        backends(app).close()


class StreamrecGunicorn(BaseApplication):
    """gunicorn run from code: each worker creates its own app after the fork."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply the options to gunicorn's config."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Create the WSGI app (called in each worker; nothing connects until first use)."""
        return create_app(self.settings)


def serve(settings: Settings) -> None:
    """Serve the API until gunicorn is told to stop (blocks)."""
    StreamrecGunicorn(settings, gunicorn_options(settings)).run()
