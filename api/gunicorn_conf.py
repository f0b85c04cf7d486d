"""gunicorn config file for ``gunicorn -c python:api.gunicorn_conf api.wsgi:app``.

Same options as ``streamrec api`` (``api.server.serve``), read from STREAMREC_* variables. Set
STREAMREC_METRICS_DIR here: without it each start leaves a temporary metrics directory behind.
"""

from __future__ import annotations

from api.metrics import enable_multiprocess
from api.server import gunicorn_options, metrics_directory
from ingest.settings import load_settings

_settings = load_settings()
_options = gunicorn_options(_settings)
# Before the app is imported, so that every worker's metrics go to the shared directory.
enable_multiprocess(metrics_directory(_settings))

bind = _options["bind"]
workers = _options["workers"]
worker_class = _options["worker_class"]
threads = _options["threads"]
preload_app = _options["preload_app"]
keepalive = _options["keepalive"]
timeout = _options["timeout"]
graceful_timeout = _options["graceful_timeout"]
accesslog = _options["accesslog"]
errorlog = _options["errorlog"]
loglevel = _options["loglevel"]
proc_name = _options["proc_name"]
worker_exit = _options["worker_exit"]
child_exit = _options["child_exit"]
if _settings.api_pin_workers:  # one CPU per worker (api.affinity)
    pre_fork = _options["pre_fork"]
    post_fork = _options["post_fork"]
