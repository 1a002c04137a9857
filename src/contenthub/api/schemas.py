"""Request and response bodies, apart from the tables. Secrets are accepted, never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    create_model,
    field_validator,
)
from pydantic import Tag as Choice

from contenthub.platforms.registry import known_platforms, publisher_for
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
    cover: str | None = Field(
        default=None,
        max_length=8_000_000,
        description="An http(s) address, or the image itself as a data: URI (at most 5 MiB).",
    )


class ArticleUpdate(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    body: str | None = Field(default=None, min_length=1)
    tags: list[Tag] | None = Field(default=None, max_length=20)
    cover: str | None = Field(
        default=None,
        max_length=8_000_000,
        description="An http(s) address, or the image itself as a data: URI (at most 5 MiB).",
    )


class ArticleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    body: str
    tags: list[str]
    cover: str | None
    external_ref: str | None = Field(
        default=None, description="The caller's own id for it (the old API's `article_id`)."
    )
    created_at: datetime
    updated_at: datetime


# -- accounts -----------------------------------------------------------------------------


class _AccountInBase(Strict):
    name: str = Field(min_length=1, max_length=128)
    min_interval_seconds: float = Field(default=0.0, ge=0, le=86_400)
    daily_cap: int | None = Field(default=None, ge=1, le=100_000)


class PluginAccountIn(_AccountInBase):
    """A platform added by a plugin (CONTENTHUB_PLATFORM_MODULES): options and credentials as
    the plugin declares them (checked when the account is created)."""

    platform: str = Field(min_length=1, max_length=32)
    options: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"writeOnly": True})


def _built_in() -> list[str]:
    """The platforms whose adapters ship with contenthub (a plugin's are known only later)."""
    return [
        p
        for p in known_platforms()
        if type(publisher_for(p)).__module__.startswith("contenthub.platforms.")
    ]


BUILT_IN_PLATFORMS = _built_in()


def _account_in(platform: str) -> type[_AccountInBase]:
    """The body that binds an account of ``platform``: its own options and credentials."""
    adapter = type(publisher_for(platform))
    options, credentials = adapter.options_model, adapter.credentials_model
    needs_options = any(f.is_required() for f in options.model_fields.values())
    title = "".join(part.capitalize() for part in platform.split("_"))
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{title}AccountIn",
        __base__=_AccountInBase,
        __doc__=f"An account on {platform}. Credentials are write-only: never shown back.",
        platform=(Literal[platform], ...),
        options=(options, ... if needs_options else Field(default_factory=options)),
        credentials=(
            credentials | None,
            Field(default=None, json_schema_extra={"writeOnly": True}),
        ),
    )


def _platform_of(body: Any) -> str | None:
    if not isinstance(body, dict | BaseModel):
        return None
    platform = body.get("platform") if isinstance(body, dict) else getattr(body, "platform", None)
    return platform if platform in BUILT_IN_PLATFORMS else "plugin"


# One schema per platform, chosen by ``platform``, so a client sees what each one needs.
AccountIn = Annotated[
    Union[
        (
            *(Annotated[_account_in(p), Choice(p)] for p in BUILT_IN_PLATFORMS),
            Annotated[PluginAccountIn, Choice("plugin")],
        )
    ],
    Discriminator(_platform_of),
]


class AccountUpdate(Strict):
    """Options replace the account's options (checked against its platform's); credentials
    given alone replace the stored ones when complete, else they are completed from them."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    options: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = Field(default=None, json_schema_extra={"writeOnly": True})
    min_interval_seconds: float | None = Field(default=None, ge=0, le=86_400)
    daily_cap: int | None = Field(default=None, ge=1, le=100_000)
    status: str | None = Field(default=None, pattern="^(active|needs_login|disabled)$")
    is_default: bool | None = Field(
        default=None,
        description="true: the account the old API's endpoints (``/api/publish_zhihu``) "
        "publish to on its platform; the user's other account there stops being it.",
    )


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
    is_default: bool
    has_credentials: bool
    credential_fields: dict[str, bool] = Field(
        description="Each credential of the platform: set or not (their values never come out)."
    )
    created_at: datetime


class LoginCheckOut(BaseModel):
    status: str
    identity: str | None
    message: str | None


# -- publishing and tasks -----------------------------------------------------------------


SCHEDULED_AT = Field(
    default=None,
    description="When to publish. A time already past publishes now (the answer's `notice` "
    "says so); more than two years ahead is refused.",
)
REPUBLISH = Field(
    default=False,
    description="A new post, although the account already has the article or a publish of it "
    "is under way, or the account is named more than once. Without it an account that has "
    "the article gets its post updated in place, one with a publish under way is a 409 naming "
    "the task, and an account named twice a 422.",
)


class PublishIn(Strict):
    article_id: DbId
    account_ids: list[DbId] = Field(min_length=1, max_length=100)
    scheduled_at: AwareDatetime | None = SCHEDULED_AT
    priority: int = Field(default=5, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    republish: bool = REPUBLISH


class BatchItem(Strict):
    article_id: DbId
    account_ids: list[DbId] = Field(min_length=1, max_length=100)


class BatchIn(Strict):
    items: list[BatchItem] = Field(min_length=1, max_length=100)
    scheduled_at: AwareDatetime | None = SCHEDULED_AT
    priority: int = Field(default=5, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    republish: bool = REPUBLISH


class HeldOut(BaseModel):
    """Why a due task does not start: its account waits for a person."""

    account: str
    status: str = Field(description="The account's status: needs_login or disabled.")
    reason: str = Field(description="Why, as recorded when the account was marked.")
    fix: str = Field(description="The command that releases it.")


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
    outcome: str | None = Field(
        default=None,
        description="A succeeded task's effect: 'published' (a new post) or 'updated' (the "
        "account's existing post of the article, edited in place).",
    )
    updates: str | None = Field(
        default=None,
        description="The existing post (its platform id) this task updates; null: a new post.",
    )
    error_class: str | None
    error_message: str | None
    leftovers: list[str] = Field(
        default_factory=list,
        description="Drafts this task left on the platform that could not be cleaned up.",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What of the article the platform cannot take and left out "
        "(e.g. a <details> element), one line each.",
    )
    batch_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    reviewed_at: datetime | None = Field(
        default=None,
        description="When the platform's review ended (in_review → succeeded or failed).",
    )
    held: HeldOut | None = Field(
        default=None, description="Set while the task waits on its account (a login)."
    )


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
    screenshots: list[str] = Field(
        default_factory=list,
        description="Addresses of the screenshots a failed browser step kept (owner only).",
    )


class PublishOut(BaseModel):
    batch_id: str | None
    tasks: list[TaskOut]
    notice: str | None = Field(
        default=None, description="Something the caller should know, e.g. a past time."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Per account, what its adapter will do on its own: a default it applies "
        "(a cover from the first image, Juejin's category) or something it leaves out.",
    )


class PreviewIn(Strict):
    article_id: DbId
    account_ids: list[DbId] = Field(min_length=1, max_length=100)


class AccountPreview(BaseModel):
    account_id: int
    account: str
    platform: str
    ok: bool = Field(description="False: a publish to this account would be refused (422).")
    problems: list[str] = Field(description="The platform's rules the article breaks.")
    notes: list[str] = Field(description="Defaults the adapter will apply; what it leaves out.")


class PreviewOut(BaseModel):
    accounts: list[AccountPreview]


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str = Field(description="The path the article's Markdown refers to the image by.")
    content_type: str
    size: int


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
