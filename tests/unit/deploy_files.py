"""Reading the deployment files (Dockerfile, docker-compose.yml, Procfile, CI) for the unit tests.

Nothing is built or run: these helpers turn the files into data the tests hold to the code (the
real CLI parser, the real Settings).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.cli import build_parser
from ingest.settings import ENV_PREFIX, Settings

REPO = Path(__file__).resolve().parents[2]
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


def load_yaml(relative: str) -> dict[str, Any]:
    """Return a YAML file of the repository as data (anchors and merge keys resolved)."""
    return dict(yaml.safe_load((REPO / relative).read_text(encoding="utf-8")))


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


@pytest.fixture(autouse=True)
def no_streamrec_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own STREAMREC_* and platform variables out of the tests' Settings."""
    for name in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name in ("PORT", "REDIS_URL", "KAFKA_URL"):
        monkeypatch.delenv(name, raising=False)
