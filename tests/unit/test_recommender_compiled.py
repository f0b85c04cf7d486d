"""recommender.compiled: numba with an on-disk cache, or in memory when none is writable."""

from __future__ import annotations

import pytest

from recommender import compiled


def test_compiles_in_memory_when_no_cache_directory_is_writable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_njit = compiled.numba.njit

    def njit(**options: object) -> object:
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'double': no locator available")
        return real_njit(**options)

    monkeypatch.setattr(compiled.numba, "njit", njit)

    def double(x: int) -> int:
        return 2 * x

    with caplog.at_level("INFO", logger="recommender.compiled"):
        assert compiled.compiled(double)(21) == 42
    assert "compiling in memory" in caplog.text
