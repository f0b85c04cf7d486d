"""How the app is wired: lazy per-process backends, the Kafka probe and the gunicorn config."""

from __future__ import annotations

import gc
import importlib
import os
import socket
import threading
from pathlib import Path

import pytest
from flask import Flask
from gunicorn.workers.gthread import ThreadWorker
from kafka.errors import KafkaTimeoutError

from api import create_app
from api.affinity import assign_cpu, pin_worker
from api.backends import Lazy, PerThread, backends
from api.metrics import enable_multiprocess
from api.probes import KafkaProbe
from api.server import BALANCED_WORKER, StreamrecGunicorn, gunicorn_options, preload
from ingest.errors import Unavailable
from ingest.settings import Settings
from recommender.artifacts import save_model
from recommender.model import Model
from stream.store import InMemoryFeatureStore
from tests.unit.conftest import assert_error, event


def test_create_app_connects_nothing(settings: Settings) -> None:
    app = create_app(settings)
    deps = backends(app)
    assert (deps.store.peek(), deps.publisher.peek(), deps.models.peek()) == (None, None, None)
    assert app.test_client().get("/healthz").status_code == 200
    assert deps.publisher.peek() is None


def test_lazy_builds_once_for_many_threads() -> None:
    built: list[object] = []
    start = threading.Barrier(8)

    def factory() -> object:
        built.append(object())
        return built[-1]

    lazy = Lazy(factory)
    results: list[object] = []

    def use() -> None:
        start.wait()
        results.append(lazy.get())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert results == built * 8


def test_lazy_rebuilds_in_a_forked_process(monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = Lazy(object)
    given = Lazy(InMemoryFeatureStore, given=InMemoryFeatureStore())
    parent_value, parent_given = lazy.get(), given.get()
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as seen from a gunicorn worker
    assert lazy.peek() is None
    assert lazy.get() is not parent_value
    assert given.get() is parent_given  # injected values belong to the caller


def test_per_thread_builds_once_per_thread_and_again_in_a_forked_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    per_thread = PerThread(object)
    mine = per_thread.get()
    assert per_thread.get() is mine
    others: list[object] = []
    thread = threading.Thread(target=lambda: others.extend([per_thread.get(), per_thread.get()]))
    thread.start()
    thread.join()
    assert others[0] is others[1] and others[0] is not mine
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as seen from a gunicorn worker
    assert per_thread.get() is not mine


def test_a_given_store_is_shared_by_the_threads(app: Flask) -> None:
    deps = backends(app)
    services: list[object] = []
    thread = threading.Thread(target=lambda: services.append(deps.service.get()))
    thread.start()
    thread.join()
    assert services[0] is not deps.service.get()  # one service per thread
    assert deps.service.get().store is deps.store.get()  # over the store the app was given


def test_lazy_does_not_cache_a_failure() -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise Unavailable("not yet")
        return "connected"

    lazy = Lazy(flaky)
    with pytest.raises(Unavailable):
        lazy.get()
    assert lazy.get() == "connected"


def test_kafka_down_at_first_publish_is_503(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_brokers(_: Settings) -> None:
        raise KafkaTimeoutError("Unable to bootstrap")

    monkeypatch.setattr("api.backends.kafka_publisher", no_brokers)
    response = create_app(settings).test_client().post("/v1/events", json=event("u1", "a1"))
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert_error(response.get_json(), "unavailable")


def test_readyz_probes_kafka_when_the_publisher_is_the_default(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(_: KafkaProbe) -> None:
        raise Unavailable("Kafka at 127.0.0.1:19092 did not answer")

    monkeypatch.setattr(KafkaProbe, "check", broker_down)
    app = create_app(settings, store=InMemoryFeatureStore())
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"]["kafka"] == "unavailable"
    assert body["checks"]["model"] == "missing"  # the empty model_dir of the test settings
    assert backends(app).publisher.peek() is None  # readiness never builds the producer


def test_kafka_probe_fails_fast_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Unavailable, match="did not answer"):
        KafkaProbe(f"127.0.0.1:{port}", timeout_seconds=0.3).check()


def test_gunicorn_options_follow_the_settings() -> None:
    options = gunicorn_options(Settings(api_host="0.0.0.0", api_port=8081, api_workers=3))
    assert options["bind"] == "0.0.0.0:8081"
    assert (options["workers"], options["threads"]) == (3, 4)
    assert options["worker_class"] == BALANCED_WORKER  # gthread taking turns (api.balance)
    assert (options["timeout"], options["graceful_timeout"], options["accesslog"]) == (30, 10, None)
    assert options["preload_app"] is True
    assert callable(options["child_exit"]) and callable(options["worker_exit"])
    assert gunicorn_options(Settings(api_host="::1"))["bind"] == "[::1]:8000"


def test_gunicorn_application_creates_the_app_per_worker(settings: Settings) -> None:
    server = StreamrecGunicorn(settings, gunicorn_options(settings))
    assert server.cfg.worker_class_str == BALANCED_WORKER
    assert issubclass(server.cfg.worker_class, ThreadWorker)
    assert server.cfg.threads == 4
    assert isinstance(server.load(), Flask)


def test_gunicorn_conf_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared: list[Path] = []
    monkeypatch.setattr("api.metrics.enable_multiprocess", shared.append)
    monkeypatch.setenv("STREAMREC_API_PORT", "8123")
    monkeypatch.setenv("STREAMREC_METRICS_DIR", str(tmp_path))
    conf = importlib.reload(importlib.import_module("api.gunicorn_conf"))
    assert conf.bind == "127.0.0.1:8123"
    assert conf.worker_class == BALANCED_WORKER and conf.preload_app is True
    assert (conf.pre_fork, conf.post_fork) == (assign_cpu, pin_worker)  # one CPU per worker
    assert set(shared) == {tmp_path}  # the workers' metrics go to the configured directory


def test_preload_loads_the_model_before_the_fork(
    settings: Settings, tiny_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_model(tiny_model, settings.model_dir, keep=2)
    gc.unfreeze()
    app = preload(create_app(settings))
    frozen = gc.get_freeze_count()
    gc.unfreeze()  # the test process's collector as it was
    deps = backends(app)
    source = deps.models.peek()
    assert source is not None and source.current() is not None
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as seen from a gunicorn worker
    assert deps.models.peek() is source  # kept across the fork, not loaded again
    assert deps.store.peek() is None  # connections are made after the fork
    assert frozen > 0  # the master's objects are kept out of the workers' collections


def test_multiprocess_metrics_start_from_a_clean_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prometheus_client.values

    monkeypatch.setattr(prometheus_client.values, "ValueClass", prometheus_client.values.ValueClass)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # so that the test's value is undone
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    enable_multiprocess(tmp_path)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
    assert not list(tmp_path.glob("*.db"))


def test_wsgi_module_exposes_an_unconnected_app() -> None:
    wsgi = importlib.import_module("api.wsgi")
    assert isinstance(wsgi.app, Flask)
    assert backends(wsgi.app).publisher.peek() is None
