"""Dockerfile and .dockerignore: what can be checked without a Docker engine.

Nothing is built. The image's stages, user, command, environment and health check are held to
the code: the command parses with the real CLI, the environment is valid Settings, and the health
check's Python runs here against the real app.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from ingest.settings import ENV_PREFIX, unknown_variables
from tests.unit.deploy_files import (  # noqa: F401 (an autouse fixture)
    REPO,
    context_copies,
    dockerfile_stages,
    final,
    healthcheck_argv,
    image_env,
    no_streamrec_environment,
    parse_cli,
    settings_from,
)

BASE_IMAGE = "python:3.11-slim-bookworm"


def build_inputs() -> list[Path]:
    """Return the files the Dockerfile copies from the build context (of packages: the .py)."""
    sources = sorted({REPO / src for stage in dockerfile_stages() for src in context_copies(stage)})
    return [file for src in sources for file in ([src] if src.is_file() else src.rglob("*.py"))]


def test_both_stages_build_on_the_same_python_base() -> None:
    stages = dockerfile_stages()
    assert len(stages) == 2
    assert [stage[0][1] for stage in stages] == [f"{BASE_IMAGE} AS builder", BASE_IMAGE]


def test_builder_installs_the_project_pinned_non_editable_without_dev_extras() -> None:
    runs = " ".join(args for kw, args in dockerfile_stages()[0] if kw == "RUN")
    assert "pip install -c constraints.txt ." in runs
    assert not re.search(r"(\s-e\s|--editable|\[dev\])", runs)
    assert "COPY --from=builder /opt/venv /opt/venv" in [f"COPY {args}" for args in final("COPY")]


def test_builder_installs_every_package_and_the_final_stage_no_source() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    builder, runtime = dockerfile_stages()
    assert packages <= set(context_copies(builder))
    # The final stage gets the installed venv only: no source tree, tests or build files.
    assert context_copies(runtime) == []


def test_every_file_the_processes_read_is_installed_as_package_data() -> None:
    # A regular install (what the image gets) holds only .py files and declared package data.
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    declared = setuptools["setuptools"].get("package-data", {})
    not_shipped = "recommender/evaluation/results/"  # `streamrec evaluate` output, not input
    for package in ("ingest", "stream", "recommender", "api"):
        for file in (REPO / package).rglob("*"):
            relative = file.relative_to(REPO / package).as_posix()
            if file.is_dir() or file.suffix in (".py", ".pyc") or "__pycache__" in relative:
                continue
            if f"{package}/{relative}".startswith(not_shipped):
                continue
            patterns = declared.get(package, [])
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{package}/{relative}"
    assert not dockerignored("api/static/demo.js", dockerignore_patterns())


def test_final_stage_installs_no_build_tools() -> None:
    runs = " ".join(final("RUN"))
    assert "pip install" not in runs
    for tool in ("build-essential", "gcc", "git", "maven", "openjdk"):
        assert tool not in runs, tool


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
    assert settings.api_host == "0.0.0.0"


@pytest.mark.parametrize(
    ("variables", "port"),
    [({}, 8000), ({"STREAMREC_API_PORT": "9000"}, 9000), ({"PORT": "5123"}, 5123)],
)
def test_healthcheck_gets_healthz_on_the_api_port(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], port: int
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
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
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


def dockerignore_patterns() -> list[str]:
    """Return the patterns of .dockerignore."""
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_keeps_local_state_out_and_build_inputs_in() -> None:
    patterns = dockerignore_patterns()
    for path in [".git", ".venv/bin/python", ".run/kafka/data", "models/LATEST", "var/models"]:
        assert dockerignored(path, patterns), f"{path} would be sent to the Docker daemon"
    for path in [".pytest_cache/v", "api/__pycache__/x.pyc", "ml-100k/u.data", "x/factors.npy"]:
        assert dockerignored(path, patterns), f"{path} would be sent to the Docker daemon"
    inputs = build_inputs()
    assert {REPO / "pyproject.toml", REPO / "ingest" / "cli.py"} <= set(inputs)
    for file in inputs:
        assert not dockerignored(file.relative_to(REPO).as_posix(), patterns), file
