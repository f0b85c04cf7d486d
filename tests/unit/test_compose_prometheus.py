"""deploy/prometheus.yml and the compose `prometheus` profile: every metrics endpoint is scraped.

The targets are held to the compose services' settings and to the routes the code serves: the
API's /metrics is asked of the real Flask app, the worker's port comes from its Settings.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.unit.deploy_files import (  # noqa: F401 (an autouse fixture)
    REPO,
    app_settings,
    container_port,
    load_yaml,
    no_streamrec_environment,
)


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """Return docker-compose.yml's services."""
    return dict(load_yaml("docker-compose.yml")["services"])


@pytest.fixture(scope="module")
def jobs() -> dict[str, dict[str, Any]]:
    """Return deploy/prometheus.yml's scrape jobs by name."""
    return {job["job_name"]: job for job in load_yaml("deploy/prometheus.yml")["scrape_configs"]}


def test_prometheus_service_mounts_the_config_and_publishes_its_port(
    services: dict[str, Any],
) -> None:
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:v")
    assert prometheus["profiles"] == ["prometheus"]
    (config,) = [v for v in prometheus["volumes"] if v.startswith("./")]
    source, target = config.split(":")[:2]
    assert (REPO / source).resolve() == REPO / "deploy" / "prometheus.yml"
    assert target == "/etc/prometheus/prometheus.yml"
    assert [container_port(mapping) for mapping in prometheus["ports"]] == [9090]


def test_api_job_scrapes_the_apis_metrics_route(
    services: dict[str, Any], jobs: dict[str, Any], client: FlaskClient
) -> None:
    job = jobs["streamrec-api"]
    (target,) = [t for config in job["static_configs"] for t in config["targets"]]
    host, port = target.split(":")
    assert host == "api" and int(port) == app_settings(services["api"]).api_port
    response = client.get(job.get("metrics_path", "/metrics"))
    assert response.status_code == 200
    assert b"streamrec_http_requests_total" in response.data


def test_stream_job_finds_every_scaled_worker_on_its_metrics_port(
    services: dict[str, Any], jobs: dict[str, Any]
) -> None:
    job = jobs["streamrec-stream"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    # DNS discovery (one A record per replica), not a fixed target: follows `--scale stream=N`.
    assert "static_configs" not in job
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["stream"] and discovery["type"] == "A"
    assert discovery["port"] == app_settings(services["stream"]).stream_metrics_port
