"""PNG plots of the evaluation (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recommender.evaluation.prequential import ReplayResult, windowed_hit_rate

METRIC_LABELS = ("P@10", "R@10", "nDCG@10", "MAP")
DPI = 120


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_static(rows: Mapping[str, Sequence[float]], reference: set[str], path: Path) -> Path:
    """Draw grouped bars, one group per metric and one bar per model; return the path."""
    plt = _pyplot()
    names = list(rows)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(10, 5))
    x = np.arange(len(METRIC_LABELS))
    for index, name in enumerate(names):
        hatch = "//" if name in reference else None
        bars = ax.bar(x + index * width, rows[name], width, label=name, hatch=hatch)
        ax.bar_label(bars, fmt="%.3f", fontsize=7, rotation=90, padding=2)
    ax.set_xticks(x + width * (len(names) - 1) / 2, METRIC_LABELS)
    ax.set_ylabel("score (higher is better)")
    ax.set_ylim(0, max(max(values) for values in rows.values()) * 1.15)
    ax.set_title("MovieLens 100K, stratified 75/25 split by item (seed 42), top-10")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(fontsize=8, ncols=4, loc="lower center", title="hatched: published numbers")
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_prequential(
    result: ReplayResult, window: int, retrain_every: int | None, path: Path
) -> Path:
    """Draw each variant's hit-rate@10 per window of replayed events; return the path."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for name, hits in result.hits.items():
        ends, rates = windowed_hit_rate(hits, window)
        ax.plot(ends, rates, marker="o", markersize=3, label=f"{name} ({hits.mean():.3f})")
    if retrain_every:
        for at in range(retrain_every, len(result.timestamps_ms), retrain_every):
            ax.axvline(at, color="grey", linestyle=":", linewidth=1)
    _date_axis(ax, result.timestamps_ms)
    ax.set_xlabel(f"events replayed (in time order; each point = the previous {window:,})")
    ax.set_ylabel("hit-rate@10")
    ax.set_ylim(bottom=0)
    ax.set_title("Streaming replay of MovieLens 100K: is the next item in the top-10?")
    ax.legend(title="variant (overall hit-rate)", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _date_axis(ax: Any, timestamps_ms: np.ndarray) -> None:
    """Label the top axis with the date of the event at each bottom tick."""
    top = ax.secondary_xaxis("top")
    n = len(timestamps_ms)
    ticks = [int(t) for t in np.linspace(0, n, 6)[1:-1]] if n else []
    labels = [
        np.datetime_as_string(np.datetime64(int(timestamps_ms[t - 1]), "ms"), "D") for t in ticks
    ]
    top.set_xticks(ticks, labels)
    top.set_xlabel("date of the event (UTC)")
