"""WSGI entry point for ``gunicorn api.wsgi:app``: creates the app and loads its model."""

from __future__ import annotations

from api import create_app
from api.server import preload

app = preload(create_app())
