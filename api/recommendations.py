"""Item lists (a user's recommendations, similar items, trending) and a user's history."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.backends import backends
from api.degraded import call_with_fallback
from api.metrics import get_metrics
from api.params import HistoryQuery, ListQuery, RecommendQuery, parse_id, parse_query
from ingest.errors import Unavailable
from recommender.service import Filters, Recommendations, RecommendationService

bp = Blueprint("recommendations", __name__, url_prefix="/v1")

ServiceCall = Callable[[RecommendationService], Recommendations]


@bp.get("/users/<path:user_id>/recommendations")
def recommend_for_user(user_id: str) -> Response:
    """Recommend up to k items for the user, from their history up to their last event."""
    user_id = parse_id("user_id", user_id)
    query = parse_query(RecommendQuery, request.args)
    filters = Filters(query.exclude, query.category, query.include_seen)
    answer = serve("recommend", lambda service: service.recommend(user_id, query.k, filters))
    return jsonify(user_id=user_id, **answer)


@bp.get("/items/<path:item_id>/similar")
def similar_items(item_id: str) -> Response:
    """List up to k items most similar to the item; 404 if the model does not know it."""
    item_id = parse_id("item_id", item_id)
    query = parse_query(ListQuery, request.args)
    filters = Filters(query.exclude, query.category)
    answer = serve("similar", lambda service: service.similar_items(item_id, query.k, filters))
    return jsonify(item_id=item_id, **answer)


@bp.get("/trending")
def trending() -> Response:
    """List up to k trending items (time-decayed popularity)."""
    query = parse_query(ListQuery, request.args)
    filters = Filters(query.exclude, query.category)
    return jsonify(serve("trending", lambda service: service.trending(query.k, filters)))


@bp.get("/users/<path:user_id>/history")
def user_history(user_id: str) -> Response:
    """List the user's most recent events, newest first."""
    user_id = parse_id("user_id", user_id)
    query = parse_query(HistoryQuery, request.args)
    deps = backends()
    if deps.redis_outage.active():  # no fallback for history: say so without waiting on Redis
        raise Unavailable("the feature store (Redis) is unavailable")
    return jsonify(user_id=user_id, events=deps.service.get().history(user_id, query.limit))


def serve(operation: str, call: ServiceCall) -> dict[str, Any]:
    """Call the service (without Redis if Redis fails), time it and render the list."""
    deps = backends()
    metrics = get_metrics()
    started = time.perf_counter()
    recommendations, degraded = call_with_fallback(
        deps.redis_outage,
        lambda: call(deps.service.get()),
        lambda: call(deps.degraded_service.get()),
    )
    metrics.observe_service(operation, time.perf_counter() - started)
    metrics.observe_model(recommendations.model_version)
    if degraded:
        metrics.degraded.labels(operation).inc()
    return render(recommendations, degraded)


def render(recommendations: Recommendations, degraded: bool) -> dict[str, Any]:
    """Render the fields every item list shares."""
    return {
        "items": [
            {"item_id": item.item_id, "score": float(item.score), "because": list(item.because)}
            for item in recommendations.items
        ],
        "model_version": recommendations.model_version,
        "generated_at": recommendations.generated_at,
        "source": recommendations.source,
        "degraded": degraded,
    }
