"""The fold-in benchmark's verdict names the rows that meet each target of issue 3 and those that
do not (the figures are made up: the benchmark itself runs in `make bench`)."""

from __future__ import annotations

from scripts.bench.bench_foldin import Row, verdict


def row(threads: int, history: int, ms: float, speedup: float) -> Row:
    return Row("", threads, history, ms, speedup)


def test_rows_on_both_sides_of_each_target_are_named() -> None:
    rows = [row(1, 10, 0.2, 2.3), row(1, 200, 0.36, 1.4), row(2, 10, 0.3, 62.0)]

    said = verdict(rows)

    latency, ratio = said.removeprefix("Targets (issue 3): ").split(". ")
    assert latency == (
        "≤ 0.3 ms median met at 10 items at 1 BLAS thread(s); 10 items at 2 BLAS thread(s); "
        "**NOT met** at 200 items at 1 BLAS thread(s)"
    )
    assert ratio == (
        "≥ 10x faster than implicit met at 10 (62.0x) items at 2 BLAS thread(s); "
        "**NOT met** at 10 (2.3x), 200 (1.4x) items at 1 BLAS thread(s)."
    )


def test_a_target_met_everywhere_or_nowhere_says_so() -> None:
    assert verdict([row(1, 50, 0.25, 12.0)]) == (
        "Targets (issue 3): ≤ 0.3 ms median **met** in every row. "
        "≥ 10x faster than implicit **met** in every row."
    )
    assert "**NOT met** in any row (50 (9.9x) items at 1 BLAS thread(s))" in verdict(
        [row(1, 50, 0.25, 9.9)]
    )
