"""WSGI entry point for ``gunicorn api.wsgi:app``: the app is created when this is imported."""

from __future__ import annotations

from api import create_app

app = create_app()
