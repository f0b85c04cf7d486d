"""Model artifacts: round trip without pickle, the LATEST pointer, pruning, model sources."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from recommender.artifacts import (
    ITEM_FACTORS_FILE,
    ITEM_IDS_FILE,
    LATEST_FILE,
    METADATA_FILE,
    DirectoryModelSource,
    StaticModelSource,
    latest_version,
    load_model,
    save_model,
)
from recommender.clock import new_version
from recommender.model import Model


def make_model(second: int, n_items: int = 3) -> Model:
    """Return a small hand-made model whose version sorts by ``second``."""
    version = new_version(datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC))
    rng = np.random.default_rng(second)
    metadata = {
        "version": version,
        "params": {"factors": 2, "regularization": 0.1, "alpha": 2.0},
        "n_items": n_items,
        "popular_items": [["i0", 2.0]],
    }
    item_ids = np.array([f"i{i}" for i in range(n_items)])
    return Model(version, item_ids, rng.random((n_items, 2), dtype=np.float32), metadata)


def version_of(source: DirectoryModelSource) -> str | None:
    model = source.current()
    return None if model is None else model.version


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_round_trip_keeps_arrays_and_metadata(tmp_path: Path) -> None:
    model = make_model(1)

    path = save_model(model, tmp_path, keep=3)
    loaded = load_model(path)

    assert path == tmp_path / model.version
    assert sorted(p.name for p in path.iterdir()) == [
        ITEM_FACTORS_FILE,
        ITEM_IDS_FILE,
        METADATA_FILE,
    ]
    assert loaded.version == model.version
    np.testing.assert_array_equal(loaded.item_ids, model.item_ids)
    np.testing.assert_array_equal(loaded.item_factors, model.item_factors)
    assert loaded.item_factors.dtype == np.float32 and loaded.item_ids.dtype.kind == "U"
    assert loaded.metadata == model.metadata


def test_latest_points_at_the_newest_save(tmp_path: Path) -> None:
    assert latest_version(tmp_path) is None
    first, second = make_model(1), make_model(2)

    save_model(first, tmp_path, keep=3)
    save_model(second, tmp_path, keep=3)

    assert (tmp_path / LATEST_FILE).read_text().strip() == second.version
    assert latest_version(tmp_path) == second.version


def test_pruning_keeps_the_newest_versions(tmp_path: Path) -> None:
    models = [make_model(second) for second in range(5)]

    for model in models:
        save_model(model, tmp_path, keep=2)

    assert {p.name for p in tmp_path.iterdir()} == {
        LATEST_FILE,
        models[3].version,
        models[4].version,
    }


def test_pruning_never_deletes_the_current_version(tmp_path: Path) -> None:
    newer = make_model(30)
    save_model(newer, tmp_path, keep=1)
    older = make_model(10)  # e.g. the clock went back: current sorts first but must survive

    save_model(older, tmp_path, keep=1)

    assert not (tmp_path / newer.version).exists()
    assert load_model(tmp_path / older.version).version == older.version


def test_half_written_temp_dir_is_never_loaded(tmp_path: Path) -> None:
    published = make_model(1)
    save_model(published, tmp_path, keep=3)
    partial = tmp_path / f".tmp-{make_model(2).version}-abc"
    partial.mkdir()
    (partial / ITEM_IDS_FILE).write_bytes(b"\x93NUMPY truncated")

    source = DirectoryModelSource(tmp_path, check_seconds=0)

    assert latest_version(tmp_path) == published.version
    assert version_of(source) == published.version


def test_load_rejects_pickled_arrays(tmp_path: Path) -> None:
    path = save_model(make_model(1), tmp_path, keep=3)
    np.save(path / ITEM_IDS_FILE, np.array(["i0", "i1", "i2"], dtype=object), allow_pickle=True)

    with pytest.raises(ValueError, match="allow_pickle"):
        load_model(path)


def test_load_names_the_inconsistency(tmp_path: Path) -> None:
    path = save_model(make_model(1), tmp_path, keep=3)
    np.save(path / ITEM_FACTORS_FILE, np.zeros((4, 2), dtype=np.float32))

    with pytest.raises(ValueError, match="item_factors.npy has 4 rows, item_ids.npy has 3 ids"):
        load_model(path)


def test_directory_source_picks_up_a_new_version_after_the_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    source = DirectoryModelSource(tmp_path, check_seconds=10, clock=clock)
    assert source.current() is None
    first, second = make_model(1), make_model(2)
    save_model(first, tmp_path, keep=3)

    clock.now = 9.0
    assert version_of(source) is None  # LATEST is not re-read within the interval
    clock.now = 10.0
    assert version_of(source) == first.version

    save_model(second, tmp_path, keep=3)
    clock.now = 15.0
    assert version_of(source) == first.version
    clock.now = 20.0
    assert version_of(source) == second.version


def test_directory_source_keeps_serving_when_the_new_version_is_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    source = DirectoryModelSource(tmp_path, check_seconds=1, clock=clock)
    good, broken = make_model(1), make_model(2)
    save_model(good, tmp_path, keep=3)
    assert source.current() is not None
    path = save_model(broken, tmp_path, keep=3)
    metadata = json.loads((path / METADATA_FILE).read_text())
    (path / METADATA_FILE).write_text(json.dumps({**metadata, "n_items": 99}))

    clock.now = 1.0
    assert version_of(source) == good.version
    assert broken.version in caplog.text
    assert "n_items 99" in caplog.text


def test_static_source_serves_what_it_was_given() -> None:
    model = make_model(1)

    assert StaticModelSource(model).current() is model
    assert StaticModelSource(None).current() is None
