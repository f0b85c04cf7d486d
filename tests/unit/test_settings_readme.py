"""README.md's configuration reference agrees with the Settings model, both ways.

Every setting is documented with its real default; every STREAMREC_* variable the README names
exists (a setting or a variable of the scripts); every platform variable the settings read is
documented.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import SecretStr

from ingest.platform_env import PLATFORM_VARIABLES
from ingest.settings import ENV_PREFIX, SCRIPT_ONLY_VARIABLES, Settings
from tests.unit.deploy_files import REPO

NAME = re.compile(r"`([A-Z_][A-Z0-9_]*)`")


def configuration_section() -> str:
    """Return the text of README.md's "Configuration" section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Configuration\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match, 'README.md has no "## Configuration" section'
    return match.group(1)


def table_rows() -> list[tuple[list[str], str]]:
    """Return (variable names, default cell) of each table row naming STREAMREC_* variables."""
    rows = []
    for line in configuration_section().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or ENV_PREFIX not in cells[0]:
            continue
        tokens = NAME.findall(cells[0])
        # "`STREAMREC_BPR_FACTORS` / `_LEARNING_RATE`" abbreviates STREAMREC_BPR_LEARNING_RATE.
        stem = ENV_PREFIX + tokens[0].removeprefix(ENV_PREFIX).split("_")[0]
        rows.append(([stem + t if t.startswith("_") else t for t in tokens], cells[1]))
    return rows


def documented_settings() -> dict[str, str]:
    """Return each documented STREAMREC_* variable with its default cell."""
    return {name: default for names, default in table_rows() for name in names}


def test_every_setting_is_documented() -> None:
    documented = documented_settings()
    missing = [ENV_PREFIX + name.upper() for name in Settings.model_fields]
    assert [name for name in missing if name not in documented] == []


def test_every_documented_variable_exists() -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    known |= {ENV_PREFIX + name for name in SCRIPT_ONLY_VARIABLES}
    assert sorted(set(documented_settings()) - known) == []


def literal(value: Any) -> str | None:
    """Return how the README writes a default (None: the README describes it in words)."""
    if value is None or isinstance(value, SecretStr):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_documented_default_is_the_real_default(name: str) -> None:
    rows = [(names, cell) for names, cell in table_rows() if ENV_PREFIX + name.upper() in names]
    assert rows, f"{ENV_PREFIX}{name.upper()} is not in the configuration tables"
    names, cell = rows[0]
    expected = literal(Settings.model_fields[name].default)
    written = re.findall(r"`([^`]*)`", cell)
    if expected is None or expected == "":  # described in words: "none", "unset", "empty"
        assert re.search(r"\b(none|unset|empty)\b", cell, re.I), (name, cell)
        return
    # A row for several variables gives their defaults in the same order, separated by " / ".
    position = names.index(ENV_PREFIX + name.upper()) if len(written) == len(names) else 0
    assert same_value(written[position], expected), (name, cell)


def same_value(written: str, expected: str) -> bool:
    """Return whether the README's literal is the default (5 and 5.0 are the same number)."""
    try:
        return float(written) == float(expected)
    except ValueError:
        return written == expected


def test_every_platform_variable_is_documented() -> None:
    section = configuration_section()
    documented = set(NAME.findall(section))
    assert [name for name in PLATFORM_VARIABLES if name not in documented] == []
