"""Training and the Model: held-out items come first, similar items share a taste."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.errors import NotFound
from ingest.settings import Settings
from recommender.clock import VERSION_PATTERN
from recommender.matrix import build_user_items
from recommender.model import Model
from recommender.train import NoTrainingData, train_model

A_ITEMS = [f"a{i}" for i in range(10)]
B_ITEMS = [f"b{i}" for i in range(10)]
# Few factors and firm regularization: two tastes are a rank-2 structure; more overfits noise.
SETTINGS = Settings(als_factors=3, als_regularization=0.5, als_iterations=15, random_seed=7)


def two_taste_rows(seed: int = 3) -> list[tuple[str, dict[str, float]]]:
    """Users 0-29 watch half the a items, users 30-59 half the b items."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(60):
        catalogue = A_ITEMS if user < 30 else B_ITEMS
        watched = rng.choice(catalogue, size=5, replace=False)
        rows.append((f"u{user:02d}", {str(item): float(rng.integers(1, 4)) for item in watched}))
    return rows


@pytest.fixture(scope="module")
def model() -> Model:
    return train_model(build_user_items(two_taste_rows()), SETTINGS)


def small_model(item_ids: list[str], factors: list[list[float]]) -> Model:
    params = {"factors": len(factors[0]), "regularization": 0.1, "alpha": 1.0}
    metadata = {"version": "v1", "params": params, "popular_items": [["x", 3.0], ["y", 1.0]]}
    return Model("v1", np.array(item_ids), np.array(factors, dtype=np.float32), metadata)


def test_held_out_items_of_the_same_taste_come_first(model: Model) -> None:
    history = {item_id: 3.0 for item_id in A_ITEMS[:5]}

    recommended = model.recommend(history, 5, exclude=set(history))

    assert {item_id for item_id, _ in recommended} == set(A_ITEMS[5:])
    scores = [score for _, score in recommended]
    assert scores == sorted(scores, reverse=True)


def test_recommend_never_returns_excluded_items(model: Model) -> None:
    history = {"b0": 2.0, "b1": 1.0}
    exclude = {"b0", "b1", "b2", "unknown"}

    recommended = model.recommend(history, 20, exclude=exclude)

    assert len(recommended) == 17
    assert not exclude & {item_id for item_id, _ in recommended}


def test_user_without_known_positive_items_has_no_vector(model: Model) -> None:
    history = {"new-item": 5.0, "a0": 0.0}

    assert model.user_vector(history) is None
    assert model.recommend(history, 5, exclude=set()) == []


def test_similar_items_share_a_taste(model: Model) -> None:
    similar = model.similar_items("a3", 5)

    assert len(similar) == 5
    assert "a3" not in {item_id for item_id, _ in similar}
    assert all(item_id.startswith("a") for item_id, _ in similar)


def test_similar_items_of_unknown_item_names_it(model: Model) -> None:
    with pytest.raises(NotFound, match="nope"):
        model.similar_items("nope", 5)


def test_ties_are_broken_by_item_id() -> None:
    tied = small_model(["d", "c", "b", "a"], [[1.0], [1.0], [1.0], [1.0]])

    assert [item_id for item_id, _ in tied.recommend({"d": 1.0}, 2, exclude=set())] == ["a", "b"]
    assert [item_id for item_id, _ in tied.similar_items("a", 3)] == ["b", "c", "d"]


def test_popular_items_come_from_metadata() -> None:
    tiny = small_model(["x", "y"], [[1.0], [0.5]])

    assert tiny.popular_items(1) == [("x", 3.0)]


def test_model_arrays_are_read_only(model: Model) -> None:
    with pytest.raises(ValueError):
        model.item_factors[0, 0] = 1.0


@pytest.mark.parametrize(
    ("item_ids", "factors", "message"),
    [
        (["a", "b"], [[1.0]], "1 rows but there are 2 item_ids"),
        (["a", "a"], [[1.0], [2.0]], "unique"),
        ([1, 2], [[1.0], [2.0]], "unicode"),
        (["a"], [[float("nan")]], "finite"),
    ],
)
def test_model_rejects_inconsistent_arrays(
    item_ids: list[object], factors: list[list[float]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Model(
            "v1",
            np.array(item_ids),
            np.array(factors),
            {"params": {"regularization": 0.1, "alpha": 1.0}},
        )


def test_trained_model_describes_itself(model: Model) -> None:
    metadata = model.metadata

    assert VERSION_PATTERN.match(model.version)
    assert metadata["version"] == model.version
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", metadata["trained_at"])
    assert metadata["algorithm"] == "als"
    assert metadata["params"] == {
        "factors": 3,
        "regularization": SETTINGS.als_regularization,
        "alpha": SETTINGS.als_alpha,
        "iterations": 15,
        "random_seed": 7,
    }
    assert (metadata["n_users"], metadata["n_items"], metadata["n_interactions"]) == (60, 20, 300)
    weights = [weight for _, weight in metadata["popular_items"]]
    assert len(weights) == 20 and weights == sorted(weights, reverse=True)
    assert model.item_factors.shape == (20, 3) and model.item_factors.dtype == np.float32
    assert model.item_ids.dtype.kind == "U"


def test_training_on_nothing_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match="0 users and 0 items") as raised:
        train_model(build_user_items([("u", {"a": 0.0})]), SETTINGS)

    assert isinstance(raised.value, NoTrainingData)


COMPILED_AFTER_BUILD = """
import sys
import numpy as np
from recommender import explain, foldin, scoring
from recommender.model import Model

metadata = {"params": {"regularization": 0.1, "alpha": 2.0}, "item_bias": sys.argv[1] == "bpr"}
factors = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
kernels = {"scoring": scoring._top_rows, "top": explain._top_positions,
           "foldin": foldin._factorise, "reasons": explain._cholesky_contributions}
Model("v1", ["a", "b", "c"], factors, metadata)
print(sorted(name for name, kernel in kernels.items() if kernel.signatures))
"""


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [("als", "['foldin', 'reasons', 'scoring', 'top']"), ("bpr", "['scoring', 'top']")],
)
def test_a_new_model_has_its_request_path_compiled(algorithm: str, expected: str) -> None:
    # A fresh process: kernels compiled by other tests in this one would hide a missing warm-up.
    done = subprocess.run(
        [sys.executable, "-c", COMPILED_AFTER_BUILD, algorithm],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.strip() == expected  # no request pays for compiling them
