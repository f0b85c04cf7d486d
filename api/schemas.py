"""The shapes of the API's answers as pydantic models: they feed the OpenAPI document and tests.

Views build plain dicts (cheaper per request); the unit tests and schemathesis check that what
they build matches these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["model", "popular", "trending"]


class ScoredItem(BaseModel):
    """One item of a list, with its score and why it was picked."""

    item_id: str
    score: float = Field(description="higher is better; comparable within one list only")
    because: list[str] = Field(
        description="the items of the user's history that contributed most (may be empty)"
    )


class ItemList(BaseModel):
    """A ranked list of items and where it came from."""

    items: list[ScoredItem]
    model_version: str | None = Field(description="the model that ranked them (null: none yet)")
    generated_at: str = Field(description="RFC 3339 UTC time of the answer")
    source: Source = Field(
        description="`model` (personalised), `popular` (no usable history) or `trending`"
    )
    degraded: bool = Field(
        description="true when the feature store (Redis) could not be used: the list then comes "
        "from the model artifact alone (its popular items), without the user's history"
    )


class UserRecommendations(ItemList):
    """Recommendations for one user."""

    user_id: str


class SimilarItems(ItemList):
    """Items similar to one item."""

    item_id: str


class HistoryEvent(BaseModel):
    """One recent event of a user."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    item_id: str
    event_type: str
    timestamp: int = Field(description="event time, epoch milliseconds")


class History(BaseModel):
    """A user's recent events, newest first."""

    user_id: str
    events: list[HistoryEvent]


class CatalogueItem(BaseModel):
    """One item as the catalogue describes it."""

    item_id: str
    title: str | None = Field(description="null when the catalogue lacks the item (or none is set)")
    categories: list[str] = Field(description="its catalogue categories, sorted (may be empty)")


class CatalogueItems(BaseModel):
    """Items with their titles and categories."""

    items: list[CatalogueItem]


class ModelDescription(BaseModel):
    """The model being served: its artifact metadata."""

    model_config = ConfigDict(extra="allow")

    version: str


class Accepted(BaseModel):
    """How many events Kafka acknowledged."""

    accepted: int


class RetrainStarted(BaseModel):
    """A training was started in the background."""

    status: Literal["started"]


class RolledBack(BaseModel):
    """Which model is served now and which one was before."""

    model_version: str
    previous: str | None


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a message for humans, and details naming the fields."""

    code: str
    message: str
    details: Any = Field(description="usually a list of `{field, message}`; null when none")


class Error(BaseModel):
    """The one error shape of every endpoint."""

    error: ErrorBody


class Health(BaseModel):
    """The process is alive."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Whether Kafka, Redis and a model are usable; `error` is present when not ready."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
    error: ErrorBody | None = None


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    UserRecommendations,
    SimilarItems,
    ItemList,
    History,
    CatalogueItems,
    ModelDescription,
    Accepted,
    RetrainStarted,
    RolledBack,
    Error,
    Health,
    Readiness,
)
