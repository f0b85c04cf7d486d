"""build_user_items: only positive weights become entries, in id order."""

from __future__ import annotations

import numpy as np

from recommender.matrix import build_user_items, positive_items


def test_seen_only_items_and_users_get_no_entries() -> None:
    rows = [
        ("u2", {"b": 2.0, "a": 0.0}),
        ("u1", {"c": 1.0, "a": 3.0}),
        ("u3", {"z": 0.0}),
    ]

    user_items = build_user_items(rows)

    assert user_items.user_ids == ["u1", "u2"]
    assert user_items.item_ids == ["a", "b", "c"]
    np.testing.assert_array_equal(user_items.matrix.toarray(), [[3, 0, 1], [0, 2, 0]])
    assert user_items.n_interactions == 3


def test_matrix_is_float32_csr_with_sorted_indices() -> None:
    user_items = build_user_items([("u", {"y": 1.5, "x": 2.5})])

    assert user_items.matrix.format == "csr"
    assert user_items.matrix.dtype == np.float32
    assert user_items.matrix.has_sorted_indices
    np.testing.assert_array_equal(user_items.matrix.toarray(), [[2.5, 1.5]])


def test_order_does_not_depend_on_input_order() -> None:
    rows = [("b", {"i2": 1.0, "i1": 2.0}), ("a", {"i3": 4.0})]

    forward = build_user_items(rows)
    backward = build_user_items(reversed(rows))

    assert forward.user_ids == backward.user_ids == ["a", "b"]
    assert forward.item_ids == backward.item_ids == ["i1", "i2", "i3"]
    assert (forward.matrix != backward.matrix).nnz == 0


def test_repeated_user_keeps_last_row() -> None:
    user_items = build_user_items([("u", {"a": 1.0}), ("u", {"b": 2.0})])

    assert user_items.user_ids == ["u"]
    assert user_items.item_ids == ["b"]


def test_negative_and_non_finite_weights_are_dropped() -> None:
    weights = {"neg": -1.0, "nan": float("nan"), "inf": float("inf"), "ok": 0.5}

    assert positive_items(weights) == {"ok": 0.5}


def test_no_rows_gives_empty_matrix() -> None:
    user_items = build_user_items([])

    assert user_items.matrix.shape == (0, 0)
    assert user_items.n_interactions == 0
