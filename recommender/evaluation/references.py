"""Microsoft Recommenders' published ML-100K numbers (examples/06_benchmarks/movielens.ipynb)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    """One published row: P@10, R@10, nDCG@10 and one MAP flavour (see ``map_kind``)."""

    model: str
    precision: float
    recall: float
    ndcg: float
    map_value: float
    map_kind: str  # "MAP" (their `map`, / |relevant|) or "MAP@k" (/ min(|relevant|, k))


# The anchors of shared/data/README.md; "MAP" here is their `map` (formerly `map_at_k`).
README_ROWS = (
    Reference("BiVAE", 0.4082, 0.2209, 0.4687, 0.1436, "MAP"),
    Reference("BPR (cornac)", 0.3887, 0.2166, 0.4450, 0.1340, "MAP"),
    Reference("LightGCN", 0.3592, 0.1960, 0.4164, 0.1209, "MAP"),
    Reference("SAR", 0.3406, 0.1854, 0.3938, 0.1140, "MAP"),
    Reference("NCF", 0.3269, 0.1632, 0.3686, 0.0952, "MAP"),
)
# Their newest stored run (notebook at commit 6232b15): MAP@k is the current `map_at_k`.
LATEST_ROWS = (
    Reference("BiVAE", 0.411347, 0.224300, 0.471722, 0.329962, "MAP@k"),
    Reference("BPR (cornac)", 0.388653, 0.216555, 0.444991, 0.297456, "MAP@k"),
    Reference("LightGCN", 0.361824, 0.196233, 0.417327, 0.276277, "MAP@k"),
    Reference("SAR", 0.340615, 0.185377, 0.393819, 0.258452, "MAP@k"),
)
GOAL = README_ROWS[0]  # the row to beat on P@10 and nDCG@10
