"""Render the fault scenarios' results (.run/faults/*.json) into RELIABILITY.md.

Only the part between the ``faults:begin`` and ``faults:end`` markers is rewritten, and only
from the JSON the scenarios wrote on this machine: every number in the table comes from a run.
Each row keeps the date of its own run, so a CI run of the subset leaves the others' rows as
they were last measured (the JSON files stay in .run/faults until ``make clean``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / ".run" / "faults"
REPORT = REPO / "RELIABILITY.md"
BEGIN, END = "<!-- faults:begin -->", "<!-- faults:end -->"
COLUMNS = (
    ("accepted", "accepted"),
    ("applied_once", "applied once"),
    ("redelivered", "redelivered (skipped)"),
    ("dead_lettered", "dead-lettered"),
    ("lost", "lost"),
    ("duplicated", "counted twice"),
    ("dlq_copies", "DLQ extra copies"),
    ("dlq_truncated", "DLQ cut to fit"),
)
TABLE_FIELDS = {"scenario", "clean", "duration_seconds", "faults", "finished_at", "machine"}
BOOK_FIELDS = {key for key, _ in COLUMNS} | {
    "valid_events",
    "invalid_messages",
    "wrong_reason",
    "features_equal",
    "balanced",
    "problems",
}


def load_results(directory: Path) -> list[dict[str, Any]]:
    """Every scenario's latest result, in scenario name order."""
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def cell(value: Any) -> str:
    """A table cell: thousands separators for counts, a dash for what does not apply."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    return f"{value:,}" if isinstance(value, int) else str(value)


def faults_text(faults: dict[str, int]) -> str:
    """``worker SIGKILL × 10`` for each injected fault."""
    return "; ".join(f"{name} × {count}" for name, count in faults.items()) or "none"


def table(results: list[dict[str, Any]]) -> list[str]:
    """The summary table, one row per scenario."""
    header = ["scenario", "run (UTC)", "duration", "faults injected"]
    header += [title for _, title in COLUMNS] + ["features = clean run", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        row = [
            f"`{result['scenario']}`",
            result["finished_at"].replace("T", " ").removesuffix("Z"),
            f"{result['duration_seconds']:.0f} s",
            faults_text(result["faults"]),
        ]
        row += [cell(result.get(key)) for key, _ in COLUMNS]
        row += [cell(result.get("features_equal")), "clean" if result["clean"] else "**FAILED**"]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def details(result: dict[str, Any]) -> list[str]:
    """What else the scenario recorded (kill times, answers served, problems found)."""
    extra = {k: v for k, v in result.items() if k not in TABLE_FIELDS | BOOK_FIELDS}
    lines = [f"- `{result['scenario']}` on {result['machine']}:"]
    lines += [f"  - {key.replace('_', ' ')}: `{json.dumps(value)}`" for key, value in extra.items()]
    lines += [f"  - problem: {problem}" for problem in result.get("problems", [])[:10]]
    return lines


def render(results: list[dict[str, Any]]) -> str:
    """The generated section of RELIABILITY.md."""
    if not results:
        return "No scenario has run on this machine yet: `make test-faults`."
    lines = table(results) + ["", "Recorded with each run:", ""]
    for result in results:
        lines += details(result)
    return "\n".join(lines)


def main() -> int:
    """Rewrite the generated section of RELIABILITY.md from .run/faults/*.json."""
    text = REPORT.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        print(f"{REPORT} has no {BEGIN} ... {END} section", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    results = load_results(RESULTS_DIR)
    REPORT.write_text(f"{head}{BEGIN}\n{render(results)}\n{END}{tail}", encoding="utf-8")
    print(f"RELIABILITY.md: {len(results)} scenario(s) from {RESULTS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
