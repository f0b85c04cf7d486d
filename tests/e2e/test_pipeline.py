"""End to end: the worker and the API as real processes, through HTTP and Kafka.

A brand-new user posts watch events over HTTP; within seconds, without retraining, their
recommendations change, lean to what they watched and exclude what they watched.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests

from ingest.settings import Settings, load_settings
from ingest.sources import generate_events
from ingest.topics import ensure_topics
from recommender.lifecycle import redis_training_lock, retrain_locked
from stream.redis_store import redis_feature_store
from tests.processes import publish_all, settings_env, streamrec_process, wait_for

GENRES = 8  # generate_events: item-N belongs to genre N % 8, user-N mostly watches genre N % 8
NEW_USER = "e2e-brand-new-user"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def genre(item_id: str) -> int:
    return int(item_id.rsplit("-", 1)[1]) % GENRES


@pytest.fixture
def settings(isolated: dict[str, object]) -> Settings:
    return load_settings(
        **isolated,
        api_port=free_port(),
        api_workers=2,
        als_factors=16,
        als_regularization=0.1,
        model_check_seconds=0.5,
    )


def seed_features(settings: Settings, worker_log: Path) -> int:
    """Publish generated history through Kafka and wait until the worker applied it."""
    events = list(generate_events(n_users=120, n_items=160, n_events=6000, seed=3))
    publish_all(settings, events)
    store = redis_feature_store(settings)
    wait_for(
        lambda: store.stats()["applied"] >= len(events),
        120,
        "the worker to apply the seed",
        worker_log,
    )
    return len(events)


def test_new_user_events_change_recommendations_without_retraining(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    env = settings_env(settings)
    base = f"http://127.0.0.1:{settings.api_port}"
    worker_log, api_log = tmp_path / "worker.log", tmp_path / "api.log"
    with streamrec_process(["stream"], env, worker_log):
        seed_features(settings, worker_log)
        trained = retrain_locked(
            settings, redis_feature_store(settings), redis_training_lock(settings)
        )
        assert trained.status == "published"
        with streamrec_process(["api"], env, api_log):
            wait_for(lambda: _ready(base), 60, "the API to be ready", api_log)

            before = requests.get(f"{base}/v1/users/{NEW_USER}/recommendations?k=10", timeout=5)
            assert before.status_code == 200
            assert before.json()["model_version"] == trained.model_version
            popular_first = [item["item_id"] for item in before.json()["items"]]
            assert len(popular_first) == 10

            watched = [f"item-{rank * GENRES + 5}" for rank in range(4)]
            events = [
                {
                    "event_id": f"e2e-{n}",
                    "user_id": NEW_USER,
                    "item_id": item_id,
                    "event_type": "watch",
                    "timestamp": "2026-11-25T12:00:00Z",
                }
                for n, item_id in enumerate(watched)
            ]
            posted_at = time.monotonic()
            accepted = requests.post(f"{base}/v1/events", json={"events": events}, timeout=15)
            assert accepted.status_code == 202, accepted.text
            assert accepted.json() == {"accepted": 4}

            def personalised() -> list[str] | None:
                answer = requests.get(f"{base}/v1/users/{NEW_USER}/recommendations?k=10", timeout=5)
                items = [item["item_id"] for item in answer.json()["items"]]
                return items if items != popular_first and not set(items) & set(watched) else None

            after = wait_for(
                personalised, 10, "recommendations to reflect the new events", worker_log
            )
            elapsed = time.monotonic() - posted_at
            print(f"recommendations changed {elapsed:.2f}s after the 202")

            assert not set(after) & set(watched)
            assert sum(genre(item) == 5 for item in after) >= 6, after
            final = requests.get(f"{base}/v1/users/{NEW_USER}/recommendations?k=10", timeout=5)
            assert final.json()["model_version"] == trained.model_version  # no retraining happened

            similar = requests.get(f"{base}/v1/items/item-5/similar?k=5", timeout=5)
            assert similar.status_code == 200
            assert sum(genre(item["item_id"]) == 5 for item in similar.json()["items"]) >= 3
            missing = requests.get(f"{base}/v1/items/no-such-item/similar", timeout=5)
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "not_found"


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
