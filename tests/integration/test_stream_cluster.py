"""The feature store, the stream worker and the API against a real Redis Cluster (3 masters).

The cluster is started by ``scripts/redis_cluster.sh`` when it is not running already, and
stopped afterwards only if this session started it.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.cluster import RedisCluster
from redis.crc import key_slot

from api import create_app
from ingest.settings import Settings, load_settings
from ingest.sources import generate_events
from ingest.topics import ensure_topics
from stream.features import feature_update
from stream.redis_store import RedisFeatureStore, connect_redis
from stream.store import InMemoryFeatureStore
from tests.conftest import REPO
from tests.processes import publish_all, settings_env, streamrec_process, wait_for
from tests.store_contract import FeatureStoreContract, update

SCRIPT = ["bash", str(REPO / "scripts" / "redis_cluster.sh")]
CLUSTER_URL = "redis+cluster://127.0.0.1:17000"


@pytest.fixture(scope="session")
def cluster_url() -> Iterator[str]:
    """A running 3-master Redis Cluster, started for this session if need be."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/redis.sh start installs it)")
    running = subprocess.run([*SCRIPT, "status"], capture_output=True).returncode == 0
    if not running:
        subprocess.run([*SCRIPT, "start"], check=True)
    yield CLUSTER_URL
    if not running:
        subprocess.run([*SCRIPT, "stop"], check=True)


@pytest.fixture
def cluster(cluster_url: str) -> Iterator[RedisCluster]:
    """A cluster client; every key under this test's prefixes is deleted afterwards."""
    client = connect_redis(cluster_url, timeout_seconds=5)
    assert isinstance(client, RedisCluster)
    yield client
    for key in client.scan_iter(match="tc*", count=1000):
        client.delete(key)
    client.close()


def prefix() -> str:
    return f"tc{uuid.uuid4().hex[:10]}"


class TestRedisClusterFeatureStore(FeatureStoreContract):
    @pytest.fixture
    def store(self, cluster: RedisCluster) -> RedisFeatureStore:
        return RedisFeatureStore(cluster, prefix(), history_length=3)


def test_each_script_call_touches_one_slot_across_three_masters(cluster: RedisCluster) -> None:
    store = RedisFeatureStore(cluster, prefix())
    updates = [update(f"e{n}", f"user-{n}", "a") for n in range(60)]
    calls = store._user_calls(updates) + store._global_calls(updates, now=0)
    for _, args in calls:
        names = args[1 : 1 + args[0]]
        assert len({key_slot(name.encode()) for name in names}) == 1
    user_slots = {key_slot(f"{store.prefix}:user:{{user-{n}}}:items".encode()) for n in range(60)}
    nodes = {cluster.nodes_manager.get_node_from_slot(slot).name for slot in user_slots}
    assert len(nodes) == 3
    assert store.apply(updates) == 60 and store.apply(updates) == 0


def test_the_worker_applies_events_into_the_cluster(
    cluster_url: str, cluster: RedisCluster, isolated: dict[str, object], tmp_path: Path
) -> None:
    settings: Settings = load_settings(
        **{**isolated, "redis_url": cluster_url, "key_prefix": prefix(), "stream_metrics_port": 0}
    )
    ensure_topics(settings)
    events = list(generate_events(n_users=200, n_items=100, n_events=3000, seed=9))
    publish_all(settings, events + events[:100])
    store = RedisFeatureStore(cluster, settings.key_prefix, settings.history_length)
    log = tmp_path / "worker.log"
    with streamrec_process(["stream"], settings_env(settings), log):
        wait_for(lambda: sum(store.stats().values()) >= 3100, 60, "every event", log)

    expected = InMemoryFeatureStore(history_length=settings.history_length)
    expected.apply([feature_update(event) for event in events])
    assert store.stats() == {"applied": 3000, "duplicates": 100}
    assert dict(store.iter_user_items()) == dict(expected.iter_user_items())
    assert dict(store.popular_items(1000)) == dict(expected.popular_items(1000))
    assert dict(store.trending_items(1000)) == pytest.approx(dict(expected.trending_items(1000)))
    assert store.user_history("user-7", 20) == expected.user_history("user-7", 20)

    api = create_app(settings).test_client()  # the API reads the same cluster
    history = api.get("/v1/users/user-7/history?limit=5")
    assert history.status_code == 200, history.get_json()
    assert history.get_json()["events"] == expected.user_history("user-7", 5)
    trending = api.get("/v1/trending?k=5")
    assert trending.status_code == 200, trending.get_json()
    assert [item["item_id"] for item in trending.get_json()["items"]] == [
        item for item, _ in expected.trending_items(5)
    ]
