"""Run ``streamrec evaluate``: read the data, run the protocols, write report, JSON and plots."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from ingest.settings import Settings
from recommender.evaluation import document, plots
from recommender.evaluation.benchmark import run_static
from recommender.evaluation.data import REPO_ROOT, file_sha256, find_ratings, load_events
from recommender.evaluation.references import README_ROWS
from recommender.evaluation.report import PrequentialSection, RunInfo, StaticSection, summary_json
from recommender.evaluation.streaming import run_prequential
from recommender.evaluation.tuning import Trial

DEFAULT_OUT_DIR = REPO_ROOT / "recommender" / "evaluation" / "results"
QUICK_OUT_DIR = REPO_ROOT / "var" / "evaluation-quick"
T = TypeVar("T")


@dataclass(frozen=True)
class EvaluationRequest:
    """What ``streamrec evaluate`` was asked to do."""

    data_dir: Path
    out_dir: Path
    protocol: str  # "static" | "prequential" | "all"
    retrain_every: int
    quick: bool
    show_progress: bool
    command: str


def progress_bar(show: bool, desc: str, unit: str) -> Callable[[Sequence[T]], Iterable[T]]:
    """Return a wrapper that shows a tqdm bar over a sequence (or nothing)."""

    def wrap(items: Sequence[T]) -> Iterable[T]:
        """Wrap the items in a progress bar."""
        return tqdm(items, desc=desc, unit=unit, disable=not show, mininterval=1.0)

    return wrap


def _bench_helper(name: str) -> Callable[[], str]:
    """Return machine() or git_revision() from scripts/bench/report.py (not a package)."""
    path = REPO_ROOT / "scripts" / "bench" / "report.py"
    spec = importlib.util.spec_from_file_location("streamrec_bench_report", path)
    if spec is None or spec.loader is None or not path.is_file():
        return platform.platform
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    helper: Callable[[], str] = getattr(module, name)
    return helper


def evaluate(request: EvaluationRequest, settings: Settings) -> Path:
    """Run the requested protocols on ml-100k and write the report; return its path."""
    started = time.perf_counter()
    ratings = find_ratings(request.data_dir)
    events = load_events(ratings)
    request.out_dir.mkdir(parents=True, exist_ok=True)
    static = prequential = None
    # One BLAS thread: the 2-core machine is shared and the matrices are tiny.
    with threadpool_limits(limits=1, user_api="blas"):
        if request.protocol in ("static", "all"):
            static = run_static(events, settings, request.quick, _progress(request, "grid"))
        chosen = static.chosen.get("als") if static else None
        if request.protocol in ("prequential", "all"):
            prequential = run_prequential(
                events,
                _replay_settings(settings, chosen),
                request.retrain_every,
                request.quick,
                _progress(request, "replay"),
            )
    info = RunInfo(
        command=request.command,
        data_path=str(ratings),
        data_sha256=file_sha256(ratings),
        machine=_bench_helper("machine")(),
        revision=_bench_helper("git_revision")(),
        quick=request.quick,
        total_seconds=time.perf_counter() - started,
        load_average=", ".join(f"{load:.1f}" for load in os.getloadavg()),
    )
    return write_outputs(request.out_dir, info, static, prequential)


def _progress(request: EvaluationRequest, what: str) -> Callable[[Sequence[Any]], Iterable[Any]]:
    unit = "candidate" if what == "grid" else "event"
    return progress_bar(request.show_progress, what, unit)


def _replay_settings(settings: Settings, chosen: Trial | None) -> tuple[Settings, str, str]:
    """Return (settings, weighting, where they come from) for the replay's model."""
    if chosen is None:
        return settings, "events", "STREAMREC_ALS_* settings; run --protocol all to use tuned ones"
    source = "the ALS parameters chosen by the static protocol's validation grid"
    return chosen.candidate.settings(settings), chosen.candidate.weighting, source


def write_outputs(
    out_dir: Path,
    info: RunInfo,
    static: StaticSection | None,
    prequential: PrequentialSection | None,
) -> Path:
    """Write report.md, results.json and the PNG plots into out_dir; return the report path."""
    if static is not None:
        rows = {r.name: _bars(r.metrics) for r in static.results}
        rows.update({f"{ref.model} (published)": _ref_bars(ref) for ref in README_ROWS[:2]})
        reference = {f"{ref.model} (published)" for ref in README_ROWS[:2]}
        plots.plot_static(rows, reference, out_dir / document.STATIC_PNG)
    if prequential is not None:
        plots.plot_prequential(
            prequential.result,
            prequential.window,
            prequential.retrain_every,
            out_dir / document.PREQUENTIAL_PNG,
        )
    summary = summary_json(info, static, prequential)
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    report = out_dir / "report.md"
    report.write_text(document.render(info, static, prequential))
    return report


def _bars(metrics: Any) -> list[float]:
    return [metrics.precision, metrics.recall, metrics.ndcg, metrics.map]


def _ref_bars(ref: Any) -> list[float]:
    return [ref.precision, ref.recall, ref.ndcg, ref.map_value]
