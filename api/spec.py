"""What each route takes and answers, with examples: the table the OpenAPI document is built from.

A unit test checks that this table and the Flask routes list the same operations.
"""

from __future__ import annotations

from typing import Any

from api.openapi import Answer, Operation
from api.params import HistoryQuery, ItemsQuery, ListQuery, RecommendQuery

VERSION = "20261125T190102Z-1a2b3c"
NOW = "2026-11-25T19:01:02.123Z"
EVENT = {
    "event_id": "7f1c0b9e-1",
    "user_id": "1",
    "item_id": "50",
    "event_type": "watch",
    "timestamp": "2026-11-25T19:00:00Z",
    "watch_seconds": 1800,
    "duration_seconds": 7200,
}
ITEMS = [
    {"item_id": "181", "score": 0.93, "because": ["50", "172"]},
    {"item_id": "100", "score": 0.88, "because": ["50"]},
]
LIST = {"model_version": VERSION, "generated_at": NOW, "source": "model", "degraded": False}
HISTORY = [
    {"event_id": "7f1c0b9e-1", "item_id": "50", "event_type": "watch", "timestamp": 1795460400000},
    {"event_id": "7f1c0b9e-0", "item_id": "181", "event_type": "like", "timestamp": 1795456800000},
]

FOUND = {
    "items": [
        {"item_id": "50", "title": "Star Wars (1977)", "categories": ["Action", "Sci-Fi", "War"]},
        {"item_id": "181", "title": "Return of the Jedi (1983)", "categories": ["Action"]},
    ]
}
HTML = {"type": "string"}


def error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """Return an example of the one error shape."""
    return {"error": {"code": code, "message": message, "details": details}}


def bad(field: str, message: str, code: str = "invalid_request") -> Answer:
    """Document a 400 naming ``field``."""
    example = error(code, f"{field} {message}", [{"field": field, "message": message}])
    return Answer(
        400, f"invalid request: `details` names the field ({field}, ...)", example=example
    )


RATE_LIMITED = Answer(
    429,
    "too many requests from this client (only when STREAMREC_RATE_LIMIT_PER_SECOND > 0, and "
    "always on admin endpoints: STREAMREC_ADMIN_ATTEMPTS_PER_MINUTE)",
    example=error("too_many_requests", "too many requests; retry after 1 s"),
    headers=("Retry-After",),
)


def unavailable(what: str, code: str = "unavailable") -> Answer:
    """Document a 503 with Retry-After."""
    return Answer(
        503, f"{what}; retry later", example=error(code, f"{what}"), headers=("Retry-After",)
    )


NOT_READY = unavailable("no trained model has been published yet", "model_not_ready")
UNAUTHORIZED = Answer(401, "missing or wrong X-API-Key", example=error("unauthorized", "bad key"))
FORBIDDEN = Answer(
    403,
    "admin endpoints are disabled (no STREAMREC_ADMIN_API_KEY is set)",
    example=error("forbidden", "admin endpoints are disabled: set STREAMREC_ADMIN_API_KEY"),
)
USER = {"user_id": "1"}
ITEM = {"item_id": "50"}
LIST_ERRORS = (bad("k", "must be an integer from 1 to 100"), RATE_LIMITED)
BODY = {
    "anyOf": [
        {"$ref": "#/components/schemas/WatchEvent"},
        {"$ref": "#/components/schemas/EventBatch"},
    ],
    "examples": {
        "one event": {"value": EVENT},
        "a batch": {"value": {"events": [EVENT, EVENT | {"event_id": "7f1c0b9e-2"}]}},
    },
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/v1/events",
        "publishEvents",
        "Publish one event or a batch to Kafka; 202 only once Kafka acknowledged all of them",
        "events",
        (
            Answer(202, "every event was acknowledged by Kafka", "Accepted", {"accepted": 2}),
            bad("events[1].event_type", "Input should be 'view', 'watch', ...", "invalid_event"),
            Answer(413, "body over 1 MiB", example=error("request_entity_too_large", "too big")),
            Answer(415, "body is not JSON", example=error("unsupported_media_type", "not JSON")),
            RATE_LIMITED,
            unavailable("Kafka did not acknowledge the events; none was accepted"),
        ),
        body=BODY,
    ),
    Operation(
        "GET",
        "/v1/users/{user_id}/recommendations",
        "recommendForUser",
        "Recommend up to k items for a user, from their history up to the last event",
        "recommendations",
        (
            Answer(200, "ranked items", "UserRecommendations", USER | {"items": ITEMS} | LIST),
            *LIST_ERRORS,
            unavailable("the service is unavailable"),
        ),
        path_params=USER,
        query=RecommendQuery,
    ),
    Operation(
        "GET",
        "/v1/items/{item_id}/similar",
        "similarItems",
        "List up to k items most similar to an item",
        "recommendations",
        (
            Answer(200, "ranked items", "SimilarItems", ITEM | {"items": ITEMS} | LIST),
            *LIST_ERRORS,
            Answer(404, "the model does not know this item", example=error("not_found", "no")),
            NOT_READY,
        ),
        path_params=ITEM,
        query=ListQuery,
    ),
    Operation(
        "GET",
        "/v1/trending",
        "trending",
        "List up to k trending items (time-decayed popularity)",
        "recommendations",
        (
            Answer(200, "ranked items", "ItemList", {"items": ITEMS} | LIST),
            *LIST_ERRORS,
            unavailable("the service is unavailable"),
        ),
        query=ListQuery,
    ),
    Operation(
        "GET",
        "/v1/users/{user_id}/history",
        "userHistory",
        "List a user's most recent events, newest first",
        "users",
        (
            Answer(200, "events, newest first", "History", USER | {"events": HISTORY}),
            bad("limit", "must be an integer from 1 to 200"),
            RATE_LIMITED,
            unavailable("the feature store (Redis) is unavailable"),
        ),
        path_params=USER,
        query=HistoryQuery,
    ),
    Operation(
        "GET",
        "/v1/items",
        "describeItems",
        "Describe items (title, categories) from the catalogue: given ids, or a search of titles",
        "items",
        (
            Answer(200, "the given ids, sorted; or titles matching q", "CatalogueItems", FOUND),
            bad("ids", "must list at most 100 item ids"),
            RATE_LIMITED,
        ),
        query=ItemsQuery,
    ),
    Operation(
        "GET",
        "/v1/model",
        "describeModel",
        "Describe the model being served (version, training time, parameters, metrics)",
        "model",
        (
            Answer(200, "the model's metadata", "ModelDescription", {"version": VERSION}),
            RATE_LIMITED,
            NOT_READY,
        ),
    ),
    Operation(
        "POST",
        "/v1/admin/retrain",
        "retrain",
        "Start training a new model in the background (needs X-API-Key)",
        "admin",
        (
            Answer(202, "training started", "RetrainStarted", {"status": "started"}),
            UNAUTHORIZED,
            FORBIDDEN,
            Answer(409, "a training is already running", example=error("conflict", "running")),
            RATE_LIMITED,
            unavailable("the service is unavailable"),
        ),
        admin=True,
    ),
    Operation(
        "POST",
        "/v1/admin/rollback",
        "rollback",
        "Serve the previous model version again (needs X-API-Key)",
        "admin",
        (
            Answer(200, "rolled back", "RolledBack", {"model_version": VERSION, "previous": "v2"}),
            UNAUTHORIZED,
            FORBIDDEN,
            Answer(404, "there is no older version", example=error("not_found", "no older")),
            RATE_LIMITED,
            unavailable("the service is unavailable"),
        ),
        admin=True,
    ),
    Operation(
        "GET",
        "/healthz",
        "healthz",
        "Answer 200 while the process is alive",
        "operations",
        (Answer(200, "alive", "Health", {"status": "ok"}),),
    ),
    Operation(
        "GET",
        "/readyz",
        "readyz",
        "Check Kafka, Redis and the model; 503 naming what is missing",
        "operations",
        (
            Answer(200, "ready", "Readiness", {"status": "ready", "checks": {"model": VERSION}}),
            Answer(503, "not ready", "Readiness", headers=("Retry-After",)),
        ),
    ),
    Operation(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics of every worker process (text exposition format)",
        "operations",
        (Answer(200, "metrics", {"type": "string"}, media="text/plain"),),
    ),
    Operation(
        "GET",
        "/openapi.json",
        "openapi",
        "This document",
        "operations",
        (Answer(200, "the OpenAPI 3.1 document", {"type": "object"}),),
    ),
    Operation(
        "GET",
        "/docs",
        "docs",
        "A page describing every operation, with a form to try each one",
        "operations",
        (Answer(200, "HTML", {"type": "string"}, media="text/html"),),
    ),
    Operation(
        "GET",
        "/demo",
        "demo",
        "A demo page: pick or create a user, click items to watch them, see the lists update",
        "operations",
        (Answer(200, "HTML; its script and style are under /static/", HTML, media="text/html"),),
    ),
)
