"""Small durable-file helpers: write-and-fsync, atomic replace, stale temp cleanup."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_file_durably(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Create ``path`` (it must not exist), fill it with ``write`` and fsync it."""
    with open(path, "xb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())


def fsync_directory(path: Path) -> None:
    """Fsync a directory so that renames inside it survive a crash."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_file_atomically(path: Path, data: bytes, temp_prefix: str) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new content, never a mix."""
    staging = path.with_name(f"{temp_prefix}{path.name}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        write_file_durably(staging, lambda file: file.write(data))
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def remove_stale_entries(directory: Path, prefix: str, max_age_seconds: float, now: float) -> None:
    """Delete files and directories named ``prefix*`` not modified for ``max_age_seconds``."""
    for entry in directory.iterdir():
        if not entry.name.startswith(prefix):
            continue
        try:
            if now - entry.stat().st_mtime < max_age_seconds:
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue  # gone already or still busy: the next call retries
