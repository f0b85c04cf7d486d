"""Path and query parameters: one typed definition each, used both to parse and to document them.

Pure (no Flask): the routes pass ``request.args``; ``api.openapi`` turns the same models into
OpenAPI parameters, so the document cannot drift from what is enforced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, WithJsonSchema
from pydantic import ValidationError as PydanticValidationError

from ingest.errors import InvalidRequest

MAX_ID_LENGTH = 128
DEFAULT_K = 10
MAX_K = 100
MAX_EXCLUDE = 100
DEFAULT_HISTORY = 50
MAX_HISTORY = 200
MAX_SEARCH_LENGTH = 100
# Any id an event may carry (1..128 characters) except control characters, which have no place
# in a URL, a log line or a Redis key. Written for both Python and ECMA-262 regex engines.
ID_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]{1,128}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DIGITS = re.compile(r"[0-9]{1,9}")


def id_problem(value: str) -> str | None:
    """Say what is wrong with an id from a URL, or return None if it is acceptable."""
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        return f"must be 1 to {MAX_ID_LENGTH} characters long"
    if _CONTROL.search(value):
        return "must not contain control characters"
    return None


def _valid_id(value: Any) -> Any:
    problem = id_problem(value) if isinstance(value, str) else "must be a string"
    if problem:
        raise ValueError(problem)
    return value


def _integer(low: int, high: int) -> Callable[[Any], int]:
    message = f"must be an integer from {low} to {high}"

    def parse(raw: Any) -> int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
            raise ValueError(message)
        return int(raw)

    return parse


def _id_list(raw: Any) -> frozenset[str]:
    if isinstance(raw, frozenset):
        return raw
    ids = [part for part in str(raw).split(",") if part]
    if len(ids) > MAX_EXCLUDE:
        raise ValueError(f"must list at most {MAX_EXCLUDE} item ids")
    for item_id in ids:
        problem = id_problem(item_id)
        if problem:
            raise ValueError(f"item id {item_id[:40]!r} {problem}")
    return frozenset(ids)


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw in ("true", "false"):
        return bool(raw == "true")
    raise ValueError("must be true or false")


_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": ID_PATTERN}
Id = Annotated[str, BeforeValidator(_valid_id), WithJsonSchema(_ID_SCHEMA)]
K = Annotated[
    int,
    BeforeValidator(_integer(1, MAX_K)),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_K}),
    Field(description="how many items to return", examples=[10]),
]
Exclude = Annotated[
    frozenset[str],
    BeforeValidator(_id_list),
    WithJsonSchema(
        {
            "type": "array",
            "items": {**_ID_SCHEMA, "pattern": r"^[^,\u0000-\u001f\u007f-\u009f]{1,128}$"},
            "maxItems": MAX_EXCLUDE,
        }
    ),
    Field(
        description="item ids never to return, comma-separated (ids holding a comma cannot be "
        f"listed); at most {MAX_EXCLUDE}",
        examples=[["a1", "b2"]],
    ),
]
Category = Annotated[
    str | None,
    BeforeValidator(_valid_id),
    WithJsonSchema(_ID_SCHEMA),
    Field(
        description="only items of this catalogue category (400 naming `category` if unknown)",
        examples=["Comedy"],
    ),
]


class ListQuery(BaseModel):
    """Query of every item list: how many items, which to exclude, which category."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    k: K = DEFAULT_K
    exclude: Exclude = frozenset()
    category: Category = None


class RecommendQuery(ListQuery):
    """Query of a user's recommendations: a list query that may keep already-seen items."""

    include_seen: Annotated[
        bool,
        BeforeValidator(_boolean),
        WithJsonSchema({"type": "boolean"}),
        Field(description="also return items the user already interacted with", examples=[False]),
    ] = False


class HistoryQuery(BaseModel):
    """Query of a user's history: how many events, newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: Annotated[
        int,
        BeforeValidator(_integer(1, MAX_HISTORY)),
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_HISTORY}),
        Field(description="how many events to return", examples=[50]),
    ] = DEFAULT_HISTORY


class ItemsQuery(BaseModel):
    """Query of the catalogue: which items to describe, or which titles to search, and how many."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ids: Annotated[
        Exclude,  # the same comma-separated id list, described for this use
        Field(
            description=f"item ids to describe, comma-separated; at most {MAX_EXCLUDE} (an id "
            "the catalogue lacks is answered with a null title)",
            examples=[["50", "181"]],
        ),
    ] = frozenset()
    q: Annotated[
        str,
        Field(
            max_length=MAX_SEARCH_LENGTH,
            description="only items whose title contains this text (case-insensitive)",
            examples=["star"],
        ),
    ] = ""
    k: K = DEFAULT_K


LIST_FIELDS = frozenset({"exclude", "ids"})
_ID_ADAPTER: TypeAdapter[str] = TypeAdapter(Id)
Q = TypeVar("Q", bound=BaseModel)


def parse_query(model: type[Q], args: Mapping[str, str]) -> Q:
    """Validate query arguments against ``model``; raise InvalidRequest naming each bad one.

    A repeated list parameter (``exclude=a&exclude=b``) adds up; other repeats use the first.
    """
    getlist = getattr(args, "getlist", None)
    values = {
        name: ",".join(getlist(name)) if getlist and name in LIST_FIELDS else args[name]
        for name in model.model_fields
        if name in args
    }
    try:
        return model.model_validate(values)
    except PydanticValidationError as exc:
        raise _invalid(exc, "") from None


def parse_id(field: str, value: str) -> str:
    """Return an id taken from the URL path, or raise InvalidRequest naming ``field``."""
    try:
        return _ID_ADAPTER.validate_python(value)
    except PydanticValidationError as exc:
        raise _invalid(exc, field) from None


def id_schema() -> dict[str, Any]:
    """Return the JSON Schema every id in a URL path follows."""
    return _ID_ADAPTER.json_schema()


def _invalid(exc: PydanticValidationError, field: str) -> InvalidRequest:
    details = [
        {
            "field": str(error["loc"][0]) if error["loc"] else field,
            "message": error["msg"].removeprefix("Value error, "),
        }
        for error in exc.errors()
    ]
    summary = "; ".join(f"{d['field']} {d['message']}" for d in details)
    return InvalidRequest(summary, details)
