"""Dockerfile, .dockerignore and docker-compose.yml: what can be checked without a Docker engine.

Nothing is built or run. The checks hold the files to the code (every command parses with the
real CLI, every STREAMREC_* variable is a real setting with a valid value) and to each other
(ports, listeners, volumes, health checks, start-up order).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import shlex
import tomllib
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from ingest.cli import build_parser
from ingest.settings import ENV_PREFIX, Settings, unknown_variables

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "python:3.11-slim-bookworm"
# Compose service -> the streamrec command it must run.
APP_COMMANDS = {
    "topics": "topics",
    "stream": "stream",
    "trainer": "train",
    "api": "api",
    "simulator": "replay",
}
Instruction = tuple[str, str]  # (keyword upper-cased, arguments)


@functools.cache
def dockerfile_stages() -> list[list[Instruction]]:
    """Return the Dockerfile's stages, each a list of instructions (continuations joined)."""
    stages: list[list[Instruction]] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # Docker drops comments inside continuations too
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), args.strip()))
    return stages


def final(keyword: str) -> list[str]:
    """Return the arguments of every ``keyword`` instruction of the final stage, in order."""
    return [args for kw, args in dockerfile_stages()[-1] if kw == keyword]


def image_env() -> dict[str, str]:
    """Return the ENV of the final stage."""
    pairs = [item.split("=", 1) for args in final("ENV") for item in shlex.split(args)]
    return {key: value for key, value in pairs}


def context_copies(stage: list[Instruction]) -> list[str]:
    """Return the build-context sources a stage COPYs (not those copied from another stage)."""
    sources: list[str] = []
    for keyword, args in stage:
        words = shlex.split(args)
        if keyword == "COPY" and not any(word.startswith("--from=") for word in words):
            sources += [word for word in words[:-1] if not word.startswith("--")]
    return sources


def build_inputs() -> list[Path]:
    """Return the files the Dockerfile copies from the build context (of packages: the .py)."""
    sources = sorted({REPO / src for stage in dockerfile_stages() for src in context_copies(stage)})
    return [file for src in sources for file in ([src] if src.is_file() else src.rglob("*.py"))]


def healthcheck_argv() -> list[str]:
    """Return the exec-form command of the image's HEALTHCHECK."""
    (args,) = final("HEALTHCHECK")
    match = re.fullmatch(r"(?:--\S+\s+)*CMD\s+(\[.*\])", args)
    assert match, f"HEALTHCHECK should be '[--options] CMD [exec form]', got {args!r}"
    return list(json.loads(match.group(1)))


def settings_from(env: dict[str, str]) -> Settings:
    """Construct Settings from STREAMREC_* variables, passed as keyword arguments."""
    kwargs: dict[str, Any] = {
        key.removeprefix(ENV_PREFIX).lower(): value for key, value in env.items()
    }
    return Settings(**kwargs)


def parse_cli(argv: list[str]) -> Any:
    """Parse argv as given to `streamrec`; fail the test (not exit) on a bad command line."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`streamrec {shlex.join(argv)}` is not a valid streamrec command line")


@pytest.fixture(autouse=True)
def no_streamrec_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own STREAMREC_* variables out of the Settings built here."""
    for name in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)


def test_both_stages_build_on_the_same_python_base() -> None:
    stages = dockerfile_stages()
    assert len(stages) == 2
    assert [stage[0][1] for stage in stages] == [f"{BASE_IMAGE} AS builder", BASE_IMAGE]


def test_builder_installs_the_project_pinned_non_editable_without_dev_extras() -> None:
    runs = " ".join(args for kw, args in dockerfile_stages()[0] if kw == "RUN")
    assert "pip install -c constraints.txt ." in runs
    assert not re.search(r"(\s-e\s|--editable|\[dev\])", runs)
    assert "COPY --from=builder /opt/venv /opt/venv" in [f"COPY {args}" for args in final("COPY")]


def test_image_carries_every_package_the_project_ships() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    builder, runtime = dockerfile_stages()
    assert packages <= set(context_copies(builder))
    assert set(context_copies(runtime)) == packages


def test_image_runs_streamrec_api_as_a_non_root_user() -> None:
    assert [json.loads(args) for args in final("ENTRYPOINT")] == [["streamrec"]]
    (cmd,) = final("CMD")
    assert parse_cli(json.loads(cmd)).command == "api"
    assert final("USER"), "the final stage runs as root"
    assert final("USER")[-1].split(":")[0] not in {"root", "0"}
    assert final("WORKDIR")[-1] == "/app"
    assert {
        "STREAMREC_MODEL_DIR": "/models",
        "PYTHONUNBUFFERED": "1",
    }.items() <= image_env().items()


def test_image_environment_is_valid_settings() -> None:
    env = {key: value for key, value in image_env().items() if key.startswith(ENV_PREFIX)}
    assert unknown_variables(env) == []
    settings = settings_from(env)
    assert str(settings.model_dir) == "/models"


@pytest.mark.parametrize(("port_variable", "port"), [(None, 8000), ("9000", 9000)])
def test_healthcheck_gets_healthz_on_the_api_port(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, port_variable: str | None, port: int
) -> None:
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"]
    requested: list[tuple[str | None, int | None, str]] = []

    def urlopen(url: str, timeout: float) -> Any:
        """Serve the request from the Flask test client instead of the network."""
        parts = urlsplit(url)
        requested.append((parts.hostname, parts.port, parts.path))
        response = client.get(parts.path)
        if response.status_code >= 400:
            raise urllib.error.HTTPError(url, response.status_code, "error", Message(), None)
        return response

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    if port_variable:
        monkeypatch.setenv("STREAMREC_API_PORT", port_variable)
    exec(compile(argv[2], "<HEALTHCHECK>", "exec"), {})  # raises (exit 1) unless /healthz is 2xx
    assert requested == [("127.0.0.1", port, "/healthz")]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Return whether .dockerignore excludes path (or a parent of it); the last match wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    suffixes = ["/".join(parts[j : i + 1]) for i in range(len(parts)) for j in range(i + 1)]
    ignored = False
    for pattern in patterns:
        negated, pattern = pattern.startswith("!"), pattern.lstrip("!")
        candidates = suffixes if pattern.startswith("**/") else prefixes
        if any(fnmatch.fnmatchcase(c, pattern.removeprefix("**/")) for c in candidates):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_local_state_out_and_build_inputs_in() -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in [".git", ".venv/bin/python", ".run/kafka/data", "models/LATEST", "var/models"]:
        assert dockerignored(path, patterns), f"{path} would be sent to the Docker daemon"
    for path in [".pytest_cache/v", "api/__pycache__/x.pyc", "ml-100k/u.data", "x/factors.npy"]:
        assert dockerignored(path, patterns), f"{path} would be sent to the Docker daemon"
    inputs = build_inputs()
    assert {REPO / "pyproject.toml", REPO / "ingest" / "cli.py"} <= set(inputs)
    for file in inputs:
        assert not dockerignored(file.relative_to(REPO).as_posix(), patterns), file


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """Return docker-compose.yml as data (anchors and merge keys resolved)."""
    yaml = pytest.importorskip(
        "yaml", reason="PyYAML (needed to read docker-compose.yml) is not a dev dependency yet"
    )
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return docker-compose.yml's services."""
    return dict(compose["services"])


def environment(service: dict[str, Any]) -> dict[str, Any]:
    """Return a service's environment as a mapping (compose allows a list of KEY=VALUE too)."""
    env = service.get("environment") or {}
    return dict(item.split("=", 1) for item in env) if isinstance(env, list) else dict(env)


def app_environment(service: dict[str, Any]) -> dict[str, str]:
    """Return the STREAMREC_* variables an app container sees: the image's, then compose's."""
    env = {**image_env(), **{key: str(value) for key, value in environment(service).items()}}
    return {key: value for key, value in env.items() if key.startswith(ENV_PREFIX)}


def app_settings(service: dict[str, Any]) -> Settings:
    """Build the Settings an app container would start with."""
    return settings_from(app_environment(service))


def command(service: dict[str, Any]) -> list[str]:
    """Return a service's argv after the `streamrec` entrypoint (the image's CMD if none)."""
    argv = service.get("command") or json.loads(final("CMD")[0])
    return shlex.split(argv) if isinstance(argv, str) else [str(arg) for arg in argv]


def container_port(mapping: str | dict[str, Any]) -> int:
    """Return the container side of a ports entry (short "[ip:]host:container[/proto]" or long)."""
    if isinstance(mapping, dict):
        return int(mapping["target"])
    return int(str(mapping).split("/")[0].rsplit(":", 1)[-1])


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


def test_api_listens_on_the_published_and_exposed_port(services: dict[str, Any]) -> None:
    api = services["api"]
    settings = app_settings(api)
    assert settings.api_host == "0.0.0.0"
    assert [container_port(mapping) for mapping in api["ports"]] == [settings.api_port]
    exposed = {int(port.split("/")[0]) for args in final("EXPOSE") for port in args.split()}
    assert settings.api_port in exposed


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


def test_only_the_api_keeps_the_images_http_healthcheck(services: dict[str, Any]) -> None:
    assert [name for name in APP_COMMANDS if has_healthcheck(services[name])] == ["api"]
    assert services["simulator"]["profiles"] == ["demo"]


def test_kafka_is_a_single_kraft_node_reachable_as_advertised(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
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
