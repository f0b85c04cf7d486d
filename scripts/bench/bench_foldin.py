"""Fold-in at request time vs implicit's ``recommend(..., recalculate_user=True)``.

Model time per request (no Redis, no HTTP): fold the user's history into a vector with the ALS
closed form (YtY precomputed once per model), score every item, drop the excluded ones, top 10.
Both sides get the same random 20,000 x 64 item factors and the same user histories.
"""

from __future__ import annotations

import sys
import time
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


def time_ours(model: Model, history: np.ndarray) -> float:
    """Seconds for one request through Model.recommend (fold-in + score + exclude + top k)."""
    user_items = {f"item-{i}": 1.0 + (i % 4) for i in history}
    started = time.perf_counter()
    model.recommend(user_items, K, exclude=set(user_items))
    return time.perf_counter() - started


def time_implicit(als: AlternatingLeastSquares, history: np.ndarray) -> float:
    """Seconds for one implicit recommend with recalculate_user=True on the same history."""
    weights = np.array([1.0 + (i % 4) for i in history], dtype=np.float32)
    row = scipy.sparse.csr_matrix((weights, (np.zeros(len(history)), history)), shape=(1, N_ITEMS))
    started = time.perf_counter()
    als.recommend(0, row, N=K, recalculate_user=True, filter_already_liked_items=True)
    return time.perf_counter() - started


def measure(model: Model, als: AlternatingLeastSquares, blas_threads: int) -> list[str]:
    """Return one table row per history size, both sides with the same BLAS threads."""
    rows = []
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for size in HISTORY_SIZES:
            batch = histories(size, seed=size)
            for history in batch[:20]:  # warm up caches and lazy initialisation
                time_ours(model, history), time_implicit(als, history)
            # Interleaved, so that a burst of load on this shared machine hits both sides.
            pairs = [(time_ours(model, h), time_implicit(als, h)) for h in batch]
            ours = [pair[0] * 1000 for pair in pairs]
            theirs = [pair[1] * 1000 for pair in pairs]
            m, tm = median(ours), median(theirs)
            print(f"BLAS {blas_threads}, history {size}: ours {m:.3f} ms, implicit {tm:.3f} ms")
            rows.append(
                f"| {blas_threads} | {size} | {m:.3f} | {percentile(ours, 99):.3f} | {tm:.3f} "
                f"| {percentile(theirs, 99):.3f} | {tm / m:.1f}x |"
            )
    return rows


def main() -> None:
    """Measure both at several history sizes and write the BENCHMARKS.md section."""
    model, als = build()
    table = "\n".join(measure(model, als, 1) + measure(model, als, 2))
    write_section(
        "foldin",
        "Fold-in at request time (issue 3)",
        f"""Model time per recommendation request at {N_ITEMS:,} items x {FACTORS} factors, top {K},
history items excluded, {REQUESTS} requests per row (random histories, ours and the baseline
interleaved), with BLAS limited to one thread and with two (the default on this 2-core
machine), the same for both sides. Ours: `Model.recommend` (ALS closed-form fold-in with
YᵀY + λI precomputed per model, score all items, exclude, argpartition). Baseline, same run,
same item factors: `implicit` 0.7 `AlternatingLeastSquares.recommend(...,
recalculate_user=True)`. Targets: ≤ 0.3 ms median, ≥ 10× faster than the baseline.

| BLAS threads | history items | ours median ms | ours p99 ms | implicit median ms \
| implicit p99 ms | speed-up (medians) |
|---:|---:|---:|---:|---:|---:|---:|
{table}
""".replace("\\\n", ""),
    )


if __name__ == "__main__":
    main()
