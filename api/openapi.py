"""The OpenAPI 3.1 document, built from the models that validate the requests and shape answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.params import id_schema
from api.schemas import RESPONSE_MODELS
from ingest.schema import _RFC3339, MAX_TIMESTAMP_MS, WatchEvent

REF = "#/components/schemas/{model}"
JSON = "application/json"
HEADERS = {
    "X-Request-ID": {
        "description": "the request's id: the one sent (letters, digits, `._:-`, up to 128) or "
        "a new one; it is also in the access log",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}


@dataclass(frozen=True)
class Answer:
    """One documented response of an operation."""

    status: int
    description: str
    schema: str | dict[str, Any] | None = "Error"  # a component's name, or an inline schema
    example: Any = None
    headers: tuple[str, ...] = ()
    media: str = JSON


@dataclass(frozen=True)
class Operation:
    """One documented operation: the Flask route it belongs to and what it takes and answers."""

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    path_params: dict[str, str] | None = None  # name -> example
    query: type[BaseModel] | None = None
    body: dict[str, Any] | None = None  # request body schema, examples under "examples"
    admin: bool = False


def build_document(
    operations: tuple[Operation, ...], max_batch_events: int, version: str
) -> dict[str, Any]:
    """Return the whole OpenAPI document for ``operations``."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "streamrec API",
            "version": version,
            "description": "Real-time recommendations: events in, personalised lists out. Every "
            'error answers `{"error": {"code", "message", "details"}}`: besides the answers listed '
            "per operation, any path answers 404 `not_found` if unknown, 405 "
            "`method_not_allowed` for a wrong method, and 500 `internal_error` (never a trace).",
        },
        "paths": paths,
        "components": {
            "schemas": component_schemas(max_batch_events),
            "headers": HEADERS,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def component_schemas(max_batch_events: int) -> dict[str, Any]:
    """Return the JSON Schemas of the event, the event batch and every answer."""
    pairs = [(model, "serialization") for model in RESPONSE_MODELS]
    _, generated = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = generated.get("$defs", {})
    schemas["WatchEvent"] = watch_event_schema()
    schemas["EventBatch"] = {
        "type": "object",
        "description": "Several events, published all or none.",
        "properties": {
            "events": {
                "type": "array",
                "items": {"$ref": REF.format(model="WatchEvent")},
                "minItems": 1,
                "maxItems": max_batch_events,
            }
        },
        "required": ["events"],
    }
    return schemas


def watch_event_schema() -> dict[str, Any]:
    """Return the event contract's JSON Schema (pydantic's, with the timestamp's two forms)."""
    schema = WatchEvent.model_json_schema(mode="validation", ref_template=REF)
    # pydantic sees the normalised int; on the wire the field also takes an RFC 3339 string.
    schema["properties"]["timestamp"] = {
        "description": "RFC 3339 date-time with a time zone, or integer epoch milliseconds",
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": MAX_TIMESTAMP_MS - 1},
            {"type": "string", "format": "date-time", "pattern": _RFC3339.pattern},
        ],
    }
    return schema


def _operation(operation: Operation) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": _path_parameters(operation) + _query_parameters(operation.query),
        "responses": {str(a.status): _response(a) for a in operation.answers},
    }
    if operation.body is not None:
        body = dict(operation.body)
        examples = body.pop("examples", {})
        result["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": body, "examples": examples}},
        }
    if operation.admin:
        result["security"] = [{"ApiKey": []}]
    return result


def _path_parameters(operation: Operation) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": "any id an event may carry, percent-encoded (no control characters)",
            "schema": id_schema(),
            "example": example,
        }
        for name, example in (operation.path_params or {}).items()
    ]


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    parameters = []
    for name, schema in model.model_json_schema()["properties"].items():
        schema = {k: v for k, v in schema.items() if k != "title" and (k, v) != ("default", None)}
        description = schema.pop("description", "")
        example = schema.pop("examples", [None])[0]
        parameter = {"name": name, "in": "query", "required": False}
        parameter |= {"description": description, "schema": schema, "example": example}
        if schema.get("type") == "array":
            parameter |= {"style": "form", "explode": False}
        parameters.append(parameter)
    return parameters


def _response(answer: Answer) -> dict[str, Any]:
    names = ("X-Request-ID", *answer.headers)
    headers = {name: {**HEADERS[name], "required": True} for name in names}
    response: dict[str, Any] = {"description": answer.description, "headers": headers}
    if answer.schema is not None:
        schema = answer.schema
        ref = {"$ref": REF.format(model=schema)} if isinstance(schema, str) else schema
        media: dict[str, Any] = {"schema": ref}
        if answer.example is not None:
            media["example"] = answer.example
        response["content"] = {answer.media: media}
    return response
