"""``streamrec evaluate``: clear failure without data, a help that helps, a tiny full run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ingest.cli import main
from recommender.evaluation import benchmark
from recommender.evaluation.tuning import Candidate


def write_tiny_movielens(folder: Path) -> Path:
    """Write a generated ``ml-100k/u.data`` (two tastes, 40 users, 24 items) under folder."""
    rng = random.Random(5)
    lines = []
    for n in range(480):
        user = rng.randrange(40)
        taste = "0" if user < 20 else "1"
        item = int(taste) * 12 + rng.randrange(12) + 1
        lines.append(f"{user + 1}\t{item}\t{rng.randint(1, 5)}\t{880_000_000 + 600 * n}")
    data = folder / "ml-100k"
    data.mkdir(parents=True)
    (data / "u.data").write_text("\n".join(lines) + "\n")
    return data


def test_missing_data_exits_with_a_message_naming_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["evaluate", "--data", str(tmp_path), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2
    assert "MovieLens 100K not found" in error
    assert str(tmp_path / "ml-100k" / "u.data") in error
    assert "--data" in error
    assert not (tmp_path / "out").exists()


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--data", "--out", "--protocol", "--retrain-every", "--quick"):
        assert option in help_text


def test_retrain_every_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--retrain-every", "0"])
    assert exit_info.value.code == 2
    assert "positive" in capsys.readouterr().err


def test_a_quick_run_writes_the_report_json_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_grid = [
        Candidate("als", "binary", 4, 0.1, 2.0, 10),
        Candidate("als", "events", 4, 0.1, 2.0, 10),
        Candidate("bpr", "binary", 4, 0.01, iterations=10, learning_rate=0.05),
    ]
    monkeypatch.setattr(benchmark, "candidates", lambda quick: tiny_grid)
    write_tiny_movielens(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["evaluate", "--data", str(tmp_path / "data"), "--out", str(out), "--quick", "--quiet"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["report"] == str(out / "report.md")
    report = (out / "report.md").read_text()
    assert "## Static protocol" in report and "## Streaming (prequential) protocol" in report
    results = json.loads((out / "results.json").read_text())
    assert set(results["prequential"]["hit_rate_at_10"]) >= {"fold-in every event", "trending only"}
    for png in ("static_metrics.png", "prequential_hit_rate.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")
