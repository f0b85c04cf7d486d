"""Finding and reading MovieLens 100K for the evaluation (the only file I/O of the inputs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ingest.errors import NotFound
from ingest.schema import WatchEvent
from ingest.sources import read_movielens

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data").resolve()
RATINGS_FILE = "u.data"


def find_ratings(data_dir: Path) -> Path:
    """Return ``u.data`` in ``data_dir/ml-100k`` (or ``data_dir`` itself); NotFound if absent."""
    candidates = [data_dir / "ml-100k" / RATINGS_FILE, data_dir / RATINGS_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " and ".join(str(candidate) for candidate in candidates)
    raise NotFound(
        f"MovieLens 100K not found: looked for {looked}. Give the folder that holds ml-100k/ "
        "with --data DIR (it is not part of the repository: its licence forbids redistribution).",
        {"data_dir": str(data_dir)},
    )


def load_events(path: Path) -> list[WatchEvent]:
    """Read every rating as a watch event, in file order (5 stars like, 4 watch, 1-3 view)."""
    return list(read_movielens(path))


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file (to name the exact data in the report)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
