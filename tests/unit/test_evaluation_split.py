"""The benchmark's stratified split and the split by time, on tiny generated rows."""

from __future__ import annotations

from collections import Counter

import pytest

from recommender.evaluation.split import stratified_split, time_split

Row = tuple[str, str, int]  # (user_id, item_id, timestamp)


def rows_per_item(counts: dict[str, int]) -> list[Row]:
    """Return rows with the given number of ratings per item, users u0, u1, ... in turn."""
    return [(f"u{n}", item, n) for item, count in counts.items() for n in range(count)]


def item_of(row: Row) -> str:
    """Return the row's item id."""
    return row[1]


def test_each_items_ratings_are_split_75_25() -> None:
    rows = rows_per_item({"a": 4, "b": 8, "c": 1, "d": 3, "e": 20})
    train, test = stratified_split(rows, item_of, ratio=0.75, seed=42)
    # rank / count <= 0.75 keeps floor(0.75 * count) ratings of each item for training.
    assert Counter(map(item_of, train)) == {"a": 3, "b": 6, "d": 2, "e": 15}
    assert Counter(map(item_of, test)) == {"a": 1, "b": 2, "c": 1, "d": 1, "e": 5}


def test_the_parts_partition_the_rows_in_input_order() -> None:
    rows = rows_per_item({"a": 5, "b": 7})
    train, test = stratified_split(rows, item_of, seed=3)
    assert sorted(train + test) == sorted(rows)
    assert train == [row for row in rows if row in train]
    assert test == [row for row in rows if row in test]


def test_known_example_follows_the_seeded_draws() -> None:
    # numpy's RandomState(42).rand(4) = [0.375, 0.951, 0.732, 0.599]: ranked by draw the rows
    # are 0, 3, 2, 1, so the first three go to training and row 1 (the largest draw) to test.
    rows = rows_per_item({"a": 4})
    train, test = stratified_split(rows, item_of, ratio=0.75, seed=42)
    assert test == [rows[1]]
    assert train == [rows[0], rows[2], rows[3]]


def test_the_same_seed_gives_the_same_split_and_another_seed_another() -> None:
    rows = rows_per_item({"a": 40, "b": 40})
    assert stratified_split(rows, item_of, seed=42) == stratified_split(rows, item_of, seed=42)
    assert stratified_split(rows, item_of, seed=42) != stratified_split(rows, item_of, seed=7)


@pytest.mark.parametrize("ratio", [0.0, 1.0, 1.5])
def test_a_ratio_outside_0_1_is_refused(ratio: float) -> None:
    with pytest.raises(ValueError, match="ratio"):
        stratified_split(rows_per_item({"a": 4}), item_of, ratio=ratio)


def test_time_split_sorts_by_time_and_keeps_ties_in_input_order() -> None:
    rows: list[Row] = [("u1", "x", 30), ("u2", "y", 10), ("u3", "z", 20), ("u4", "w", 10)]
    first, rest = time_split(rows, lambda row: row[2], fraction=0.5)
    assert first == [("u2", "y", 10), ("u4", "w", 10)]
    assert rest == [("u3", "z", 20), ("u1", "x", 30)]
