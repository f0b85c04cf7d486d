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
from typing import NamedTuple

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
BLOCK = 25  # requests each side answers in a row
REGULARIZATION, ALPHA = 0.05, 2.0
TARGET_MS, TARGET_SPEEDUP = 0.3, 10.0  # issue 3: model time median, and against implicit


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


class Row(NamedTuple):
    """One history size at one BLAS thread count: the table line and the medians it shows."""

    line: str
    blas_threads: int
    history: int
    ours_ms: float
    speedup: float  # implicit's median wall time over ours


def measure(model: Model, als: AlternatingLeastSquares, blas_threads: int) -> list[Row]:
    """Return one table row per history size, both sides with the same BLAS threads."""
    rows = []
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for size in HISTORY_SIZES:
            batch = histories(size, seed=size)
            for history in batch[:20]:  # warm up caches and lazy initialisation
                time_ours(model, history), time_implicit(als, history)
            # Interleaved in blocks, so that a burst of load on this shared machine hits all
            # sides, while each side answers a run of requests back to back as a server does
            # (alternating on every call would have each evict the other's data from the CPU
            # caches each time, which no server sees).
            ours, explained, theirs = [], [], []
            for start in range(0, len(batch), BLOCK):
                block = batch[start : start + BLOCK]
                ours += [time_ours(model, h) for h in block]
                explained += [time_ours(model, h, True) for h in block]
                theirs += [time_implicit(als, h) for h in block]
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
            line = "| " + " | ".join(str(cell) for cell in cells) + " |"
            rows.append(Row(line, blas_threads, size, m, tm / m))
    return rows


def verdict(rows: list[Row]) -> str:
    """Say, per target of issue 3, in which rows it is met and in which not."""

    def where(chosen: list[Row], speedup: bool) -> str:
        groups = []
        for threads in sorted({row.blas_threads for row in chosen}):
            sizes = [
                f"{row.history}" + (f" ({row.speedup:.1f}x)" if speedup else "")
                for row in chosen
                if row.blas_threads == threads
            ]
            groups.append(f"{', '.join(sizes)} items at {threads} BLAS thread(s)")
        return "; ".join(groups)

    def target(name: str, ok: Callable[[Row], bool], speedup: bool) -> str:
        good = [row for row in rows if ok(row)]
        bad = [row for row in rows if not ok(row)]
        if not bad:
            return f"{name} **met** in every row"
        if not good:
            return f"{name} **NOT met** in any row ({where(bad, speedup)})"
        return f"{name} met at {where(good, speedup)}; **NOT met** at {where(bad, speedup)}"

    latency = target(f"≤ {TARGET_MS} ms median", lambda r: r.ours_ms <= TARGET_MS, False)
    ratio = target(
        f"≥ {TARGET_SPEEDUP:.0f}x faster than implicit",
        lambda r: r.speedup >= TARGET_SPEEDUP,
        True,
    )
    return f"Targets (issue 3): {latency}. {ratio}."


def scan_times(model: Model) -> tuple[float, float]:
    """Median ms, one BLAS thread: the float32 product over all items, and our int8 first pass
    with the exact rescoring (``QuantizedScorer.top``), for the same user vectors."""
    vectors = [model.user_vector({f"item-{i}": 1.0 for i in h}) for h in histories(50, seed=1)]
    banned = np.zeros(N_ITEMS, dtype=bool)
    product, ours = [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for vector in vectors:
            assert vector is not None
            product.append(timed(lambda v=vector: np.dot(model.item_factors, v))[0])
            ours.append(timed(lambda v=vector: model.scorer.top(v, K, banned, 0))[0])
    return median(product[20:]), median(ours[20:])


def main() -> None:
    """Measure both at several history sizes and write the BENCHMARKS.md section."""
    model, als = build()
    load_before = os.getloadavg()[0]
    rows = measure(model, als, 1) + measure(model, als, 2)
    table = "\n".join(row.line for row in rows)
    product_ms, scan_ms = scan_times(model)
    load_after = os.getloadavg()[0]
    write_section(
        "foldin",
        "Fold-in at request time (issue 3)",
        f"""Model time per recommendation request at {N_ITEMS:,} items x {FACTORS} factors, top {K},
history items excluded, {REQUESTS} requests per row (random histories; ours and the baseline
interleaved in blocks of {BLOCK} requests), with BLAS limited to one thread (what the API runs
with, and what implicit itself recommends) and with two (OpenBLAS's default on this 2-core
machine), the same for both sides.
Ours: `Model.recommend` (ALS fold-in: YᵀY + λI precomputed per model, one Cholesky
factorisation per request; every item scored by the int8 first pass, the few that can reach the
top k rescored exactly; exclusions skipped); "with reasons":
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

{verdict(rows)}

Where the time goes, same run, one BLAS thread, medians: the float32 product of all
{N_ITEMS:,} x {FACTORS} item factors (5 MB) with a user vector, what scoring every item used to
be and what bounds implicit from below, {product_ms:.3f} ms; ours instead, `QuantizedScorer.top`
(`recommender/scoring.py`: a compiled pass over an int8 copy, 1.3 MB, that stays in the L2
cache; per-row error bounds; exact float32 rescoring of the few rows that can still reach the
top {K}), {scan_ms:.3f} ms for the same vectors and the same answers. The rest of a request is the
history lookup, the Cholesky fold-in and the exclusions, which grow with the history. Since
implicit reads all 5 MB at one thread, ten times faster than it would need less than a tenth
of that product for the whole request: the 10x holds against implicit as it runs by default here
(OpenBLAS's two threads, where its thread start-up per small call dominates), not against
implicit limited to one thread. Tried and measured slower or no faster (session notes): a
float16 copy through numpy (no half-precision BLAS, ~15x slower), an int8 copy cast back in
cache-sized blocks by numpy, computing scores in blocks, and integer (int16/int8) dot products in
the compiled pass (~2.5x slower than its float32 arithmetic on int8 data). implicit's CPU time is
above its wall time even at one BLAS thread (part of its call runs on other threads), so its CPU
column is the fairer baseline on a shared machine.
""".replace("\\\n", ""),
    )


if __name__ == "__main__":
    main()
