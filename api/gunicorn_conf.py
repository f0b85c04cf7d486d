"""gunicorn config file for ``gunicorn -c python:api.gunicorn_conf api.wsgi:app``.

Same options as ``streamrec api`` (``api.server.serve``), read from STREAMREC_* variables.
"""

from __future__ import annotations

from api.server import gunicorn_options
from ingest.settings import load_settings

_options = gunicorn_options(load_settings())

bind = _options["bind"]
workers = _options["workers"]
worker_class = _options["worker_class"]
threads = _options["threads"]
timeout = _options["timeout"]
graceful_timeout = _options["graceful_timeout"]
accesslog = _options["accesslog"]
errorlog = _options["errorlog"]
loglevel = _options["loglevel"]
proc_name = _options["proc_name"]
worker_exit = _options["worker_exit"]
