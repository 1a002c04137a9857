"""Request and response bodies, apart from the tables. Secrets are accepted, never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contenthub.states import EventReason
from contenthub.storage.enqueue import MAX_PRIORITY, MIN_PRIORITY

DbId = Annotated[int, Field(ge=1, le=2_147_483_647)]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"\S")]


def _no_nul(value: Any, where: str = "") -> None:
    """No database stores NUL in text (PostgreSQL refuses it outright)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"must not contain NUL characters{where}")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, where)
            _no_nul(item, f" (in {key!r})")
    elif isinstance(value, list):
        for item in value:
            _no_nul(item, where)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        _no_nul(value)
        return value


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- articles -----------------------------------------------------------------------------


class ArticleIn(Strict):
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    cover: str | None = Field(default=None, max_length=1000)


class ArticleUpdate(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    body: str | None = Field(default=None, min_length=1)
    tags: list[Tag] | None = Field(default=None, max_length=20)
    cover: str | None = Field(default=None, max_length=1000)


class ArticleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    body: str
    tags: list[str]
    cover: str | None
    created_at: datetime
    updated_at: datetime


# -- accounts -----------------------------------------------------------------------------


class AccountIn(Strict):
    platform: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=128)
    options: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict)
    min_interval_seconds: float = Field(default=0.0, ge=0, le=86_400)
    daily_cap: int | None = Field(default=None, ge=1, le=100_000)


class AccountUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    options: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None
    min_interval_seconds: float | None = Field(default=None, ge=0, le=86_400)
    daily_cap: int | None = Field(default=None, ge=1, le=100_000)
    status: str | None = Field(default=None, pattern="^(active|needs_login|disabled)$")


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    platform: str
    name: str
    options: dict[str, Any]
    status: str
    status_message: str | None
    min_interval_seconds: float
    daily_cap: int | None
    has_credentials: bool
    created_at: datetime


class LoginCheckOut(BaseModel):
    status: str
    identity: str | None
    message: str | None


# -- publishing and tasks -----------------------------------------------------------------


class PublishIn(Strict):
    article_id: DbId
    account_ids: list[DbId] = Field(min_length=1, max_length=100)
    scheduled_at: AwareDatetime | None = None
    priority: int = Field(default=5, ge=MIN_PRIORITY, le=MAX_PRIORITY)


class BatchItem(Strict):
    article_id: DbId
    account_ids: list[DbId] = Field(min_length=1, max_length=100)


class BatchIn(Strict):
    items: list[BatchItem] = Field(min_length=1, max_length=100)
    scheduled_at: AwareDatetime | None = None
    priority: int = Field(default=5, ge=MIN_PRIORITY, le=MAX_PRIORITY)


class TaskOut(BaseModel):
    id: str
    status: str
    progress: int
    stage: str | None
    platform: str
    account_id: int
    article_id: int | None
    title: str
    priority: int
    due_at: datetime
    attempt: int
    max_attempts: int
    cancel_requested: bool
    result_url: str | None
    post_id: str | None
    error_class: str | None
    error_message: str | None
    batch_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class EventOut(BaseModel):
    id: int
    task_id: str
    at: datetime
    kind: str
    reason: EventReason = Field(description="Why it happened: what metrics count by.")
    from_status: str | None
    to_status: str | None
    stage: str | None
    progress: int | None
    attempt: int | None
    message: str | None


class TaskDetail(TaskOut):
    events: list[EventOut]


class PublishOut(BaseModel):
    batch_id: str | None
    tasks: list[TaskOut]


class BulkOut(BaseModel):
    batch_id: str
    changed: list[str]
    skipped: list[str]


# -- tokens -------------------------------------------------------------------------------


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=100)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once; store it now.")


class ArticlePage(BaseModel):
    items: list[ArticleOut]
    total: int
    limit: int
    offset: int


class TaskPage(BaseModel):
    items: list[TaskOut]
    limit: int
    next_before: str | None = Field(description="Pass as ?before= for the next, older page.")
