"""docker-compose.yml: what can be checked without a Docker engine.

Nothing is run. Each app service's command parses with the real CLI, each STREAMREC_* variable is
a real setting with a valid value, and the services agree with each other (ports, listeners,
volumes, health checks, start-up order, scaling). The image side is test_compose_dockerfile.py;
Prometheus is test_compose_prometheus.py.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from ingest.settings import unknown_variables
from tests.unit.deploy_files import (  # noqa: F401 (an autouse fixture)
    app_environment,
    app_settings,
    command,
    container_port,
    environment,
    final,
    load_yaml,
    no_streamrec_environment,
    parse_cli,
)

# Compose service -> the streamrec command it must run.
APP_COMMANDS = {
    "topics": "topics",
    "stream": "stream",
    "trainer": "train",
    "api": "api",
    "simulator": "replay",
}
OPTIONAL_PROFILES = {"simulator": "simulator", "prometheus": "prometheus"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """Return docker-compose.yml as data."""
    return load_yaml("docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return docker-compose.yml's services."""
    return dict(compose["services"])


def test_app_services_share_the_one_image_built_here(services: dict[str, Any]) -> None:
    built = {name: service for name, service in services.items() if "build" in service}
    assert set(built) == set(APP_COMMANDS)
    assert len({(s["image"], json.dumps(s["build"], sort_keys=True)) for s in built.values()}) == 1
    assert all("entrypoint" not in service for service in built.values())


@pytest.mark.parametrize(("name", "cli_command"), APP_COMMANDS.items())
def test_app_command_is_a_real_streamrec_command(
    services: dict[str, Any], name: str, cli_command: str
) -> None:
    args = parse_cli(command(services[name]))
    assert args.command == cli_command
    if cli_command == "train":
        assert args.interval and args.interval > 0, "the trainer must retrain, not exit"


@pytest.mark.parametrize("name", APP_COMMANDS)
def test_app_environment_names_real_settings_with_valid_values(
    services: dict[str, Any], name: str
) -> None:
    values = environment(services[name]).values()
    assert not [value for value in values if isinstance(value, bool)], "quote booleans"
    assert unknown_variables(app_environment(services[name])) == []
    settings = app_settings(services[name])  # raises ValidationError on a bad value
    kafka_env = environment(services["kafka"])
    assert f"PLAINTEXT://{settings.kafka_bootstrap}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert urlsplit(settings.redis_url).hostname in services


def test_optional_services_are_behind_their_profiles(services: dict[str, Any]) -> None:
    profiled = {name: s["profiles"] for name, s in services.items() if s.get("profiles")}
    assert profiled == {name: [profile] for name, profile in OPTIONAL_PROFILES.items()}


def test_api_listens_on_the_published_and_exposed_port(services: dict[str, Any]) -> None:
    api = services["api"]
    settings = app_settings(api)
    assert settings.api_host == "0.0.0.0"
    assert [container_port(mapping) for mapping in api["ports"]] == [settings.api_port]
    exposed = {int(port.split("/")[0]) for args in final("EXPOSE") for port in args.split()}
    assert settings.api_port in exposed


def test_stream_worker_can_be_scaled_out(services: dict[str, Any]) -> None:
    stream = services["stream"]
    # A fixed name or a published host port would stop `--scale stream=N` at the second one.
    assert "container_name" not in stream and "ports" not in stream
    settings = app_settings(stream)
    assert settings.stream_metrics_host == "0.0.0.0" and settings.stream_metrics_port > 0
    assert settings.topic_partitions >= 2, "one partition would leave extra workers idle"


def test_stream_healthcheck_reads_the_workers_own_metrics_port(services: dict[str, Any]) -> None:
    stream = services["stream"]
    test = stream["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:3] == ["python", "-c"]
    port = app_settings(stream).stream_metrics_port
    assert re.search(rf"http://127\.0\.0\.1:{port}/metrics", test[3])


def has_healthcheck(service: dict[str, Any]) -> bool:
    """Return whether a service's container reports health (its own check or the image's)."""
    check = service.get("healthcheck") or {}
    if check.get("disable") or check.get("test") in (["NONE"], "NONE"):
        return False
    return bool(check.get("test")) or "build" in service


def test_depends_on_targets_exist_and_can_meet_the_condition(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert not services[target].get("profiles") or service.get("profiles"), (name, target)
            condition = rule["condition"]
            if condition == "service_healthy":
                assert has_healthcheck(services[target]), f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert services[target].get("restart", "no") in ("no", "on-failure"), target


def test_long_running_services_report_health_and_restart(services: dict[str, Any]) -> None:
    for name in ("kafka", "redis", "stream", "api"):
        assert has_healthcheck(services[name]), name
    for name in ("kafka", "redis", "stream", "trainer", "api"):
        assert services[name]["restart"] == "unless-stopped", name
    # One-shot commands have no HTTP server for the image's API check to reach.
    for name in ("topics", "simulator"):
        assert not has_healthcheck(services[name]), name


def test_workers_start_after_healthy_services_and_created_topics(services: dict[str, Any]) -> None:
    for name in ("stream", "api"):
        rules = {t: r["condition"] for t, r in services[name]["depends_on"].items()}
        assert rules == {
            "kafka": "service_healthy",
            "redis": "service_healthy",
            "topics": "service_completed_successfully",
        }, name
    assert services["trainer"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_kafka_is_a_single_kraft_node_reachable_as_advertised(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = {key: str(value) for key, value in environment(kafka).items()}
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert set(advertised) <= set(listeners) <= set(protocols)
    assert controller in listeners and controller not in advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller" and env["CLUSTER_ID"]
    node, _, address = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert node == env["KAFKA_NODE_ID"]
    assert address.rsplit(":", 1)[1] == listeners[controller].rsplit(":", 1)[1]
    for key in [k for k in env if k.endswith(("REPLICATION_FACTOR", "MIN_ISR"))]:
        assert env[key] == "1", key
    assert len([k for k in env if k.endswith("REPLICATION_FACTOR")]) >= 3
    assert any(volume.endswith(":" + env["KAFKA_LOG_DIRS"]) for volume in kafka["volumes"])
    assert re.search(
        r"kafka-(broker-api-versions|topics)\.sh", " ".join(kafka["healthcheck"]["test"])
    )


def test_models_and_redis_data_live_on_named_volumes(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    assert {"models", "redis-data", "kafka-data"} <= set(compose["volumes"])
    model_dir = str(app_settings(services["api"]).model_dir)
    for name in ("trainer", "api"):
        assert f"models:{model_dir}" in services[name]["volumes"], name
    redis = services["redis"]
    assert "redis-data:/data" in redis["volumes"]
    assert " ".join(command(redis)).endswith("--appendonly yes")
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])


# The Compose specification's keys this file may use (a typo such as `depend_on` would otherwise
# be found only by an engine).
TOP_LEVEL_KEYS = {"name", "services", "volumes", "networks", "configs", "secrets"}
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose",
    "volumes", "healthcheck", "depends_on", "restart", "profiles", "init", "user", "labels",
    "networks", "deploy", "stop_grace_period", "stop_signal", "working_dir", "ulimits", "logging",
}  # fmt: skip
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "disable"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}


def test_only_keys_of_the_compose_specification_are_used(compose: dict[str, Any]) -> None:
    assert {key for key in compose if not key.startswith("x-")} <= TOP_LEVEL_KEYS
    for name, service in compose["services"].items():
        assert set(service) <= SERVICE_KEYS, (name, set(service) - SERVICE_KEYS)
        assert set(service.get("healthcheck") or {}) <= HEALTHCHECK_KEYS, name
        assert {rule["condition"] for rule in (service.get("depends_on") or {}).values()} <= (
            CONDITIONS
        ), name
        assert service.get("restart", "no") in RESTART_POLICIES, name
