"""The item catalogue: titles and categories (MovieLens ``u.item`` genres, or a CSV)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

# The 19 genre flags of u.item, in order (used when u.genre is not beside u.item).
MOVIELENS_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


@dataclass(frozen=True)
class Catalogue:
    """Titles and categories per item_id; categories match case-insensitively."""

    titles: dict[str, str] = field(default_factory=dict)
    categories: dict[str, frozenset[str]] = field(default_factory=dict)

    def category_names(self) -> list[str]:
        """Return every category name, sorted."""
        return sorted({name for names in self.categories.values() for name in names})

    def find_category(self, name: str) -> str | None:
        """Return the catalogue's spelling of a category, or None if there is no such one."""
        wanted = name.casefold()
        return next((c for c in self.category_names() if c.casefold() == wanted), None)

    def items_in(self, category: str) -> set[str]:
        """Return the item_ids of one category (exact catalogue spelling)."""
        return {item_id for item_id, names in self.categories.items() if category in names}


def read_movielens_items(path: Path) -> Catalogue:
    """Read MovieLens ``u.item`` (latin-1, ``|``-separated, 19 genre flags)."""
    genres = _genre_names(path.parent / "u.genre")
    titles: dict[str, str] = {}
    categories: dict[str, frozenset[str]] = {}
    with path.open(encoding="latin-1") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.rstrip("\n").split("|")
            if len(fields) != 5 + len(genres):
                raise ValueError(f"{path}:{number}: expected {5 + len(genres)} fields")
            flags = fields[5:]
            titles[fields[0]] = fields[1]
            categories[fields[0]] = frozenset(
                g for g, f in zip(genres, flags, strict=True) if f == "1"
            )
    return Catalogue(titles, categories)


def _genre_names(path: Path) -> tuple[str, ...]:
    if not path.is_file():
        return MOVIELENS_GENRES
    rows = [line.strip().split("|") for line in path.read_text(encoding="latin-1").splitlines()]
    return tuple(
        name for name, _ in sorted((r for r in rows if len(r) == 2), key=lambda r: int(r[1]))
    )


def read_csv_items(path: Path) -> Catalogue:
    """Read a CSV ``item_id,title,categories`` (categories ``|``-separated; header optional)."""
    titles: dict[str, str] = {}
    categories: dict[str, frozenset[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if number == 1 and row[:1] == ["item_id"]:
                continue
            if len(row) != 3:
                raise ValueError(f"{path}:{number}: expected item_id,title,categories")
            titles[row[0]] = row[1]
            categories[row[0]] = frozenset(c.strip() for c in row[2].split("|") if c.strip())
    return Catalogue(titles, categories)


def load_catalogue(path: Path | None) -> Catalogue:
    """Load a catalogue file (``u.item`` by name, otherwise CSV); an empty one for None."""
    if path is None:
        return Catalogue()
    if not path.is_file():
        raise ValueError(f"catalogue file not found: {path}")
    return read_movielens_items(path) if path.name == "u.item" else read_csv_items(path)
