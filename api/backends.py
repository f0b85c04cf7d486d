"""The backends one app talks to, built on first use once per process (the recommendation
service once per thread) and cached on the app.

gunicorn forks its workers after loading the config; a kafka-python producer (and its I/O
thread) or a Redis connection pool must not cross a fork, so nothing here is built before the
first request that needs it, and a value built in another process is rebuilt.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from flask import Flask, current_app
from kafka.errors import KafkaError

from api.degraded import ModelPopularityStore, Outage
from api.probes import KafkaProbe
from ingest.errors import Unavailable
from ingest.kafka_security import client_security
from ingest.publisher import EventPublisher, kafka_publisher
from ingest.settings import Settings
from recommender.admin import ModelAdmin
from recommender.artifacts import DirectoryModelSource, ModelSource
from recommender.catalogue import load_catalogue
from recommender.lifecycle import redis_training_lock
from recommender.service import RecommendationService
from stream.redis_store import RedisFeatureStore, redis_feature_store
from stream.store import FeatureStore

EXTENSION_KEY = "streamrec"
# Readiness probes must answer well within a load balancer's probe timeout.
PROBE_TIMEOUT_SECONDS = 2.0
# Trending changes slowly; one Redis read per process per second instead of one per request.
TRENDING_CACHE_SECONDS = 1.0

T = TypeVar("T")
log = logging.getLogger(__name__)


class Lazy(Generic[T]):
    """A value built by ``factory`` on first use, once per process; thread-safe."""

    def __init__(
        self, factory: Callable[[], T], given: T | None = None, fork_safe: bool = False
    ) -> None:
        self._factory = factory
        self._value = given
        self._given = given is not None
        # A fork-safe value (no socket, no thread: a model source) built before gunicorn forks
        # is kept by the workers: a preloaded model is loaded once, shared copy-on-write.
        self._shared = self._given or fork_safe
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def get(self) -> T:
        """Return the value, building it now if this process has none yet."""
        value = self._value
        if value is not None and self._built_here():
            return value  # the common case, without taking the lock
        with self._lock:
            if self._value is None or not self._built_here():
                # If the factory raises, nothing is cached: the next call tries again.
                self._value = self._factory()
                self._pid = os.getpid()
            return self._value

    def peek(self) -> T | None:
        """Return the value if this process has one already, else None (never builds)."""
        return self._value if self._built_here() else None

    def _built_here(self) -> bool:
        return self._shared or self._pid == os.getpid()

    @property
    def built(self) -> bool:
        """Tell whether this process built the value (an injected value is not ours to close)."""
        return not self._given and self._value is not None and self._pid == os.getpid()


class PerThread(Generic[T]):
    """A value built by ``factory`` on first use in each thread of each process."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._local = threading.local()

    def get(self) -> T:
        """Return this thread's value, building it now if the thread has none yet."""
        local = self._local
        value: T | None = getattr(local, "value", None)
        pid = os.getpid()
        if value is None or local.pid != pid:  # a forked child keeps its parent thread's locals
            # If the factory raises, nothing is kept: the thread's next call tries again.
            value = local.value = self._factory()
            local.pid = pid
        return value


class Backends:
    """Settings plus the store, publisher, model source, services and model admin of one app."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: FeatureStore | None = None,
        publisher: EventPublisher | None = None,
        models: ModelSource | None = None,
        admin: ModelAdmin | None = None,
    ) -> None:
        self.settings = settings
        self._store_given = store is not None
        self.store = Lazy(lambda: api_feature_store(settings), store)
        self.publisher = Lazy(lambda: _connect_publisher(settings), publisher)
        self.models = Lazy(
            lambda: DirectoryModelSource(settings.model_dir, settings.model_check_seconds),
            models,
            fork_safe=True,
        )
        self.catalogue = Lazy(lambda: load_catalogue(settings.catalogue_path), fork_safe=True)
        # One service per thread, over a Redis connection of the thread's own (thread_store):
        # a recommendation's one Redis round trip skips the connection pool.
        self.service = PerThread(lambda: self.service_over(self.thread_store()))
        # The same service over a store without Redis: degraded answers (see api.degraded).
        self.degraded_service = Lazy(
            lambda: self.service_over(ModelPopularityStore(self.models.get()))
        )
        self.redis_outage = Outage("Redis", settings.api_degraded_seconds)
        # After Kafka failed, POST /v1/events answers 503 at once for a while instead of tying
        # up a worker thread for the whole publish timeout per request.
        self.kafka_outage = Outage("Kafka", settings.api_degraded_seconds)
        self.admin = Lazy(self._build_admin, admin)
        self.kafka_probe = KafkaProbe(
            settings.kafka_bootstrap,
            min(PROBE_TIMEOUT_SECONDS, settings.kafka_request_timeout_seconds),
            security=client_security(settings),
        )

    def service_over(self, store: FeatureStore) -> RecommendationService:
        """Build a recommendation service reading features from ``store``."""
        return RecommendationService(
            store,
            self.models.get(),
            catalogue=self.catalogue.get(),
            trending_cache_seconds=TRENDING_CACHE_SECONDS,
        )

    def thread_store(self) -> FeatureStore:
        """Return a feature store for the calling thread alone, over a Redis connection of its own.

        A given store, or one over a Redis Cluster, is shared by the threads instead.
        """
        shared = self.store.get()
        if isinstance(shared, RedisFeatureStore) and not shared.cluster:
            return api_feature_store(self.settings, dedicated=True)
        return shared

    def _build_admin(self) -> ModelAdmin:
        # Training reads every user's features: with the worker's Redis timeout, not the API's.
        store = self.store.get() if self._store_given else redis_feature_store(self.settings)
        lock = redis_training_lock(self.settings)
        return ModelAdmin(self.settings, store, self.models.get(), lock)

    def close(self) -> None:
        """Close the publisher this process built (flushing the producer), if any."""
        if self.publisher.built:
            publisher = self.publisher.get()
            try:
                publisher.close()
            except Exception:  # shutting down: log and carry on
                log.exception("closing the event publisher failed")


def api_feature_store(settings: Settings, dedicated: bool = False) -> FeatureStore:
    """Build the API's Redis store: the worker's, with the API's shorter timeout.

    ``dedicated``: for one thread only. Its commands then go to one connection kept for it
    instead of through the connection pool, which locks, keeps counts and polls the socket for
    stray data on every command (~0.04 ms of CPU per answer, measured in-process). It
    connects now (a RedisError if it cannot). A Redis Cluster client keeps its pools.
    """
    timeout = settings.api_redis_timeout_seconds
    store = redis_feature_store(settings.model_copy(update={"redis_timeout_seconds": timeout}))
    if dedicated and isinstance(store.client, redis.Redis):
        pool = store.client.connection_pool
        store.client = redis.Redis(connection_pool=pool, single_connection_client=True)
    return store


def _connect_publisher(settings: Settings) -> EventPublisher:
    try:
        return kafka_publisher(settings)
    except KafkaError as exc:  # the producer bootstraps in its constructor
        raise Unavailable(f"cannot connect to Kafka at {settings.kafka_bootstrap}: {exc}") from exc


def backends(app: Flask | None = None) -> Backends:
    """Return the backends of ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    found: Backends = target.extensions[EXTENSION_KEY]
    return found


def get_settings() -> Settings:
    """Return the current app's settings."""
    return backends().settings


def get_store() -> FeatureStore:
    """Return the current app's feature store, connecting it on first use."""
    return backends().store.get()


def get_publisher() -> EventPublisher:
    """Return the current app's event publisher, connecting it on first use."""
    return backends().publisher.get()


def get_models() -> ModelSource:
    """Return the current app's model source."""
    return backends().models.get()


def get_service() -> RecommendationService:
    """Return the current app's recommendation service."""
    return backends().service.get()


def get_admin() -> ModelAdmin:
    """Return the current app's model admin (describe, retrain, rollback)."""
    return backends().admin.get()
