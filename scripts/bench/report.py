"""Shared helpers for the benchmarks: timing statistics, machine description, BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"
HEADER = """# Benchmarks

Written by `make bench` (each section by its own script under `scripts/bench/`). Every figure is
a median over repeated runs, with the baseline measured in the same run; compare ratios, not
absolute numbers, across machines. The machine each section ran on is named in the section.
"""


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q / 100
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """Return the median."""
    return statistics.median(values)


def machine() -> str:
    """Describe the machine: CPU model, cores, memory, OS, Python."""
    cpu = platform.processor() or "unknown CPU"
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"model name\s*:\s*(.+)", info).group(1)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages * page_size / 2**30:.0f} GiB"
    except (ValueError, OSError):
        memory = "unknown memory"
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def git_revision() -> str:
    """Return the short git revision of the code, "-dirty" if it has changes.

    BENCHMARKS.md does not count: the benchmarks write it, and a run of several would otherwise
    call every section after the first dirty.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=BENCHMARKS_MD.parent
        ).stdout.strip()

    try:
        changed = git("status", "--porcelain", "--", ".", f":(exclude){BENCHMARKS_MD.name}")
        return git("rev-parse", "--short", "HEAD") + ("-dirty" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# Taken when a benchmark starts, so that a section names the code that ran, even if the tree
# changes before the benchmark writes it.
REVISION = git_revision()


def write_section(name: str, title: str, body: str) -> None:
    """Replace (or append) the section ``name`` of BENCHMARKS.md with a dated body."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"Measured {stamp} at `{REVISION}` on: {machine()}.\n\n{body.strip()}\n"
        f"<!-- /bench:{name} -->"
    )
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{section}\n"
    )
    BENCHMARKS_MD.write_text(text)
