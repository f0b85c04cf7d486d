"""Fold-in at request time vs implicit's ``recommend(..., recalculate_user=True)``.

Model time per request (no Redis, no HTTP): fold the user's history into a vector with the ALS
closed form (YtY precomputed once per model), score every item, drop the excluded ones, top 10.
Both sides get the same random 20,000 x 64 item factors and the same user histories.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recommender.model import Model  # noqa: E402
from scripts.bench.report import median, percentile, write_section  # noqa: E402

N_ITEMS, FACTORS, K = 20_000, 64, 10
HISTORY_SIZES = (10, 50, 200)
REQUESTS = 400
REGULARIZATION, ALPHA = 0.05, 2.0


def build(seed: int = 7) -> tuple[Model, AlternatingLeastSquares]:
    """Return our Model and an implicit ALS sharing the same item factors."""
    rng = np.random.default_rng(seed)
    factors = (rng.standard_normal((N_ITEMS, FACTORS)) * 0.1).astype(np.float32)
    ids = np.array([f"item-{i}" for i in range(N_ITEMS)], dtype=np.str_)
    metadata = {
        "version": "bench",
        "params": {"regularization": REGULARIZATION, "alpha": ALPHA, "factors": FACTORS},
    }
    model = Model("bench", ids, factors, metadata)
    als = AlternatingLeastSquares(factors=FACTORS, regularization=REGULARIZATION, alpha=ALPHA)
    als.item_factors = factors
    als.user_factors = np.zeros((1, FACTORS), dtype=np.float32)
    return model, als


def histories(size: int, seed: int) -> list[np.ndarray]:
    """Return REQUESTS random item-index histories of one size."""
    rng = np.random.default_rng(seed)
    return [rng.choice(N_ITEMS, size=size, replace=False) for _ in range(REQUESTS)]


Timing = tuple[float, float]  # (wall ms, CPU ms of this process)


def timed(call: Callable[[], object]) -> Timing:
    """Run ``call``; return its wall time and the CPU time this process spent (all threads).

    CPU time is what the request costs when the machine is shared: time spent waiting for a core
    that other work holds does not count; CPU that BLAS threads burn spinning does.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    call()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def time_ours(model: Model, history: np.ndarray, explained: bool = False) -> Timing:
    """Time one request through Model.recommend (fold-in + score + exclude + top k).

    ``explained``: through Model.recommend_explained instead (what the API serves: the same plus
    the ``because`` reasons of the k items).
    """
    user_items = {f"item-{i}": 1.0 + (i % 4) for i in history}
    recommend = model.recommend_explained if explained else model.recommend
    return timed(lambda: recommend(user_items, K, exclude=set(user_items)))


def time_implicit(als: AlternatingLeastSquares, history: np.ndarray) -> Timing:
    """Time one implicit recommend with recalculate_user=True on the same history."""
    weights = np.array([1.0 + (i % 4) for i in history], dtype=np.float32)
    row = scipy.sparse.csr_matrix((weights, (np.zeros(len(history)), history)), shape=(1, N_ITEMS))
    return timed(
        lambda: als.recommend(0, row, N=K, recalculate_user=True, filter_already_liked_items=True)
    )


def measure(model: Model, als: AlternatingLeastSquares, blas_threads: int) -> list[str]:
    """Return one table row per history size, both sides with the same BLAS threads."""
    rows = []
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for size in HISTORY_SIZES:
            batch = histories(size, seed=size)
            for history in batch[:20]:  # warm up caches and lazy initialisation
                time_ours(model, history), time_implicit(als, history)
            # Interleaved, so that a burst of load on this shared machine hits all sides.
            triples = [
                (time_ours(model, h), time_ours(model, h, True), time_implicit(als, h))
                for h in batch
            ]
            ours, explained, theirs = ([t[n] for t in triples] for n in range(3))
            m, cm = (median([t[n] for t in ours]) for n in (0, 1))
            em = median([t[0] for t in explained])
            tm, tcm = (median([t[n] for t in theirs]) for n in (0, 1))
            load = os.getloadavg()[0]
            print(
                f"BLAS {blas_threads}, history {size}: ours {m:.3f} ms (CPU {cm:.3f}), with "
                f"reasons {em:.3f} ms, implicit {tm:.3f} ms (CPU {tcm:.3f}) (load {load:.1f})"
            )
            cells = [blas_threads, size, f"{m:.3f}", f"{percentile([t[0] for t in ours], 99):.3f}"]
            cells += [f"{cm:.3f}", f"{em:.3f}", f"{tm:.3f}", f"{tcm:.3f}"]
            cells += [f"{tm / m:.1f}x", f"{tcm / cm:.1f}x" if cm else "-", f"{load:.1f}"]
            rows.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return rows


def main() -> None:
    """Measure both at several history sizes and write the BENCHMARKS.md section."""
    model, als = build()
    load_before = os.getloadavg()[0]
    table = "\n".join(measure(model, als, 1) + measure(model, als, 2))
    load_after = os.getloadavg()[0]
    write_section(
        "foldin",
        "Fold-in at request time (issue 3)",
        f"""Model time per recommendation request at {N_ITEMS:,} items x {FACTORS} factors, top {K},
history items excluded, {REQUESTS} requests per row (random histories, ours and the baseline
interleaved), with BLAS limited to one thread (what the API runs with, and what implicit itself
recommends) and with two (OpenBLAS's default on this 2-core machine), the same for both sides.
Ours: `Model.recommend` (ALS fold-in: YᵀY + λI precomputed per model, one Cholesky
factorisation per request; score all items; exclude; partition for the top k); "with reasons":
`Model.recommend_explained`, what the API serves (the same plus each item's `because`).
Baseline, same run, same item factors: `implicit` 0.7 `AlternatingLeastSquares.recommend(...,
recalculate_user=True, filter_already_liked_items=True)`. Targets: ≤ 0.3 ms median, ≥ 10× faster
than the baseline. The machine is shared with other work (1-minute load average
{load_before:.1f} before, {load_after:.1f} after, on 2 cores; `load`: at the end of each row), so
besides wall time the table gives each call's CPU time (this process, all threads): waiting for
a core held by others does not count in it, CPU burnt by BLAS threads does. Medians and
same-run ratios are what to compare.

| BLAS threads | history items | ours median ms | ours p99 ms | ours CPU median ms \
| with reasons median ms | implicit median ms | implicit CPU median ms | speed-up (wall) \
| speed-up (CPU) | load |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{table}

Both sides multiply all {N_ITEMS:,} x {FACTORS} float32 item factors (5 MB) by the user vector;
at one BLAS thread that product alone took ~0.21 ms here (about 23 GB/s; measured apart), more
than two thirds of the 0.3 ms target, and the same scan bounds implicit's time from below. So
at one thread the ratio to implicit cannot reach 10x whatever the rest costs; the 10x holds
only against implicit at two threads, where OpenBLAS's thread start-up per small call dominates
its time. Reading less was tried and measured: a float16 copy makes numpy's product ~15x
slower (no half-precision BLAS), an int8 copy cast back in cache-sized blocks is no faster, and
computing the scores in blocks to keep them in cache was slower than one product. implicit's
CPU time is above its wall time even at one BLAS thread (part of its call runs on other
threads), so its CPU column is the fairer baseline on a shared machine.
""".replace("\\\n", ""),
    )


if __name__ == "__main__":
    main()
