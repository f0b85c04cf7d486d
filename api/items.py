"""``GET /v1/items``: titles and categories from the catalogue, by item id or by title search."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.backends import backends
from api.params import ItemsQuery, parse_query
from recommender.catalogue import Catalogue

bp = Blueprint("items", __name__, url_prefix="/v1")


@bp.get("/items")
def describe_items() -> Response:
    """Describe the given items, or the catalogue items whose titles contain q (up to k)."""
    query = parse_query(ItemsQuery, request.args)
    catalogue = backends().catalogue.get()
    item_ids = find_items(catalogue, query.ids, query.q, query.k)
    return jsonify(items=[describe(catalogue, item_id) for item_id in item_ids])


def find_items(catalogue: Catalogue, item_ids: Iterable[str], text: str, k: int) -> list[str]:
    """Return up to k ids: the given ones (sorted) or the catalogue's, whose titles contain text.

    Without text every given id is kept, even one the catalogue lacks (it is described as such).
    """
    wanted = text.casefold()
    given = sorted(item_ids)
    candidates: Iterable[str] = given if given else catalogue.titles
    found = []
    for item_id in candidates:
        title = catalogue.titles.get(item_id)
        if not wanted or (title is not None and wanted in title.casefold()):
            found.append(item_id)
            if len(found) == k:
                break
    return found


def describe(catalogue: Catalogue, item_id: str) -> dict[str, Any]:
    """Render one item's title (None if unknown) and sorted categories."""
    return {
        "item_id": item_id,
        "title": catalogue.titles.get(item_id),
        "categories": sorted(catalogue.categories.get(item_id, ())),
    }
