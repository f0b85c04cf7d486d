"""``/v1/users/<user_id>/recommendations`` and ``/v1/items/<item_id>/similar``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.backends import get_service
from api.validation import check_id, parse_k
from recommender.service import Recommendations

bp = Blueprint("recommendations", __name__, url_prefix="/v1")


@bp.get("/users/<user_id>/recommendations")
def recommend_for_user(user_id: str) -> Response:
    """Recommend up to k items the user has not interacted with (popular items if no history)."""
    check_id("user_id", user_id)
    recommendations = get_service().recommend(user_id, parse_k(request.args))
    return jsonify(user_id=user_id, **recommendations_json(recommendations))


@bp.get("/items/<item_id>/similar")
def similar_items(item_id: str) -> Response:
    """List up to k items most similar to the item; 404 if the model does not know it."""
    check_id("item_id", item_id)
    recommendations = get_service().similar_items(item_id, parse_k(request.args))
    return jsonify(item_id=item_id, **recommendations_json(recommendations))


def recommendations_json(recommendations: Recommendations) -> dict[str, Any]:
    """Render the fields shared by both item lists."""
    return {
        "items": [
            {"item_id": item_id, "score": float(score)} for item_id, score in recommendations.items
        ],
        "model_version": recommendations.model_version,
        "generated_at": recommendations.generated_at,
        "source": recommendations.source,
    }
