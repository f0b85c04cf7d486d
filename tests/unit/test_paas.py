"""Procfile (Heroku-style platforms) and the GitHub Actions workflow, checked against the code."""

from __future__ import annotations

import shlex
import tomllib
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from api.server import gunicorn_options
from ingest.settings import load_settings, unknown_variables
from tests.unit.deploy_files import (  # noqa: F401 (an autouse fixture)
    REPO,
    load_yaml,
    no_streamrec_environment,
    parse_cli,
)

# Procfile process type -> the streamrec command it must run.
PROCESS_COMMANDS = {"web": "api", "worker": "stream", "trainer": "train"}


def procfile() -> dict[str, list[str]]:
    """Return the Procfile's process types and their command lines, split like a shell would."""
    processes: dict[str, list[str]] = {}
    for line in (REPO / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            assert name not in processes, f"process type {name} given twice"
            processes[name.strip()] = shlex.split(command)
    return processes


def streamrec_argv(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split ``[VAR=value ...] streamrec ARGS`` into the assignments and ARGS."""
    assignments = {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        name, _, value = words.pop(0).partition("=")
        assignments[name] = value
    assert words[:1] == ["streamrec"], f"a process must run the streamrec command: {words}"
    return assignments, words[1:]


def test_procfile_declares_web_worker_and_trainer() -> None:
    assert set(PROCESS_COMMANDS) <= set(procfile())


@pytest.mark.parametrize("process", PROCESS_COMMANDS)
def test_every_process_is_a_real_streamrec_command(process: str) -> None:
    assignments, argv = streamrec_argv(procfile()[process])
    assert unknown_variables(assignments) == []
    args = parse_cli(argv)
    assert args.command == PROCESS_COMMANDS[process]
    if args.command == "train":
        assert args.interval and args.interval > 0, "the trainer process must keep retraining"


def test_web_process_binds_the_platforms_port_on_every_interface(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assignments, _ = streamrec_argv(procfile()["web"])
    monkeypatch.setenv("PORT", "41234")
    for name, value in assignments.items():
        monkeypatch.setenv(name, value)
    assert gunicorn_options(load_settings())["bind"] == "0.0.0.0:41234"


def test_processes_find_redis_and_kafka_from_the_platforms_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "rediss://:pw@redis.example.com:6380")
    monkeypatch.setenv("KAFKA_URL", "kafka+ssl://k1.example.com:9096,kafka+ssl://k2:9096")
    settings = load_settings()
    assert settings.redis_url == "rediss://:pw@redis.example.com:6380"
    assert settings.kafka_bootstrap == "k1.example.com:9096,k2:9096"
    assert settings.kafka_security_protocol == "SSL"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    """Return .github/workflows/ci.yml as data."""
    return load_yaml(".github/workflows/ci.yml")


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the steps of the workflow's only job."""
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def test_workflow_runs_on_pushes_and_pull_requests(workflow: dict[str, Any]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert str(job["runs-on"]).startswith("ubuntu-")
    assert workflow["permissions"] == {"contents": "read"}


def test_workflow_runs_make_test_as_the_last_step(workflow: dict[str, Any]) -> None:
    assert steps(workflow)[-1]["run"].strip() == "make test"
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "\ntest: lint" in makefile, "make test must include the lint gates"


def test_workflow_python_and_java_are_the_ones_the_project_needs(
    workflow: dict[str, Any],
) -> None:
    used = {
        step["uses"].split("@")[0]: step.get("with", {})
        for step in steps(workflow)
        if "uses" in step
    }
    python = str(used["actions/setup-python"]["python-version"])
    requires = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "requires-python"
    ]
    assert SpecifierSet(requires).contains(python), (python, requires)
    assert str(used["actions/setup-java"]["java-version"]) == "17"
    assert "actions/checkout" in used


def test_readme_shows_the_procfile_as_it_is() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    procfile_text = (REPO / "Procfile").read_text(encoding="utf-8")
    assert f"```\n{procfile_text}```" in readme


def test_buildpack_requirements_install_the_pinned_project_without_dev_extras() -> None:
    lines = (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert requirements == ["-c constraints.txt", "."]
