"""Compiling the request path's inner loops with numba, cached on disk when possible."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numba

log = logging.getLogger(__name__)

# Reassociation lets LLVM vectorise the sums; no assumptions about infinities or NaN (-inf is
# used as a sentinel).
OPTIONS: dict[str, Any] = {"nogil": True, "fastmath": {"reassoc", "contract"}}


def compiled(function: Callable[..., Any]) -> Any:
    """Compile with numba, cached on disk (the package's __pycache__, else ~/.cache/numba).

    A process that can write to neither (a read-only image without a home) compiles in memory
    on first use instead: about a second once per process rather than a failed import.
    """
    try:
        return numba.njit(cache=True, **OPTIONS)(function)
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        log.info("numba cannot cache %s (%s); compiling in memory", function.__name__, exc)
        return numba.njit(**OPTIONS)(function)
