"""The adapter interface. Adapters are leaves: they depend on this module, the renderer and
their HTTP/browser clients, nothing else."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from contenthub.errors import PublishError, Rejected, Transient
from contenthub.platforms.content import (
    CLOCK_SKEW_SECONDS,
    DRAFT_REQUESTED_AT,
    LEFTOVERS,
    PUBLISH_SUBMITTED,
    AccountAccess,
    PriorPost,
    TaskContent,
    may_have_published,
)
from contenthub.platforms.requirements import Requirements
from contenthub.platforms.session import CookieCredentials

# Re-exported: adapters read the whole interface as ``base.X``, what platforms.session (the
# cookie platforms' credentials) and platforms.content (what a publish carries) hold included.
__all__ = ["CookieCredentials", "PriorPost", "Requirements", "may_have_published"]

# -- what each platform declares: its options and its credentials ----------------------------

# A credential whose value is a secret: write-only in the API's schema, prompted for without echo
# by the CLI. Credentials of every kind are write-only everywhere (never shown back).
Secret = Annotated[
    str,
    Field(
        min_length=1, max_length=4096, json_schema_extra={"writeOnly": True, "format": "password"}
    ),
]
WebAddress = Annotated[
    str,
    Field(
        min_length=8,
        max_length=2000,
        pattern=r"^https?://[^\s/?#]+[^\s]*$",
        description="An http(s) address.",
    ),
]
_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api_?key|cookie|credential|private_?key|access_?key"
    r"|session|bearer|(^|_)auth(orization)?($|_)",
    re.I,
)


def looks_like_secret(name: str) -> bool:
    """An option named like a credential (``password``, ``app_password``, ``api_key``,
    ``secret``, ``token``, ``cookies`` …): it belongs in the credentials, never in options."""
    return bool(_SECRET_NAME.search(name))


class PlatformOptions(BaseModel):
    """Options every HTTP adapter understands; each platform's model extends it. Options are
    shown back in answers, so nothing secret belongs here. Unknown names are refused."""

    model_config = ConfigDict(extra="forbid")

    base_url: WebAddress | None = Field(
        default=None,
        description="Send the platform's requests here instead (a sandbox, a self-hosted site).",
    )
    timeout_seconds: float | None = Field(default=None, gt=0, le=300)


class NoCredentials(BaseModel):
    """A platform that needs no login."""

    model_config = ConfigDict(extra="forbid")


class AnyOptions(BaseModel):
    """What a plugin that declares nothing gets: any options (still none named like a secret)."""

    model_config = ConfigDict(extra="allow")


class AnyCredentials(BaseModel):
    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class LoginPage:
    """A platform's web login page, as a browser login drives it: where it is (on ``host``,
    mapped to an account's ``base_url`` like every request), the cookie that proves a login,
    and the page's parts. The selectors default to the sandbox's markup; the real sites' are
    unverified guesses, declared per adapter so a changed page is a one-line fix."""

    host: str
    path: str
    session_cookie: str
    qr_image: str = "img.qr-image"
    username: str = "form.password-login input[name=username]"
    password: str = "form.password-login input[name=password]"
    submit: str = "form.password-login [type=submit]"
    captcha: str = ".captcha"
    second_factor: str = ".second-factor"
    error: str = ".login-error"


@dataclass(frozen=True)
class AccountScope:
    """What checking an account's options may need beyond the options: whose account it is,
    and the administrator's settings. Given as the validation context (``info.context``); absent
    when a schema is only checked for shape (the API's request body)."""

    user: str
    account: str
    data_dir: Path
    local_roots: tuple[Path, ...] = ()
    current_root: str | None = None  # what the account has now (an update may keep it)


@dataclass(frozen=True)
class Features:
    """What a platform offers beyond its rules, as ``contenthub platforms`` lists it: how an
    account logs in, whether the platform itself can publish at a set time, and whether it may
    hold a post for review before the public sees it. Whether it takes images, a cover and tags
    is not repeated here: ``offers`` reads it from the adapter's ``requires``."""

    login: str
    scheduled: bool
    review: bool
    note: str = ""


def offers(rules: Requirements) -> dict[str, bool]:
    """What the catalogue shows of a platform's rules: whether it hosts the body's images (not
    only web addresses), shows a cover, keeps tags."""
    return {"images": rules.hosts_images, "cover": rules.takes_cover, "tags": rules.takes_tags}


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The fields of a credentials model whose values are secrets (prompted without echo)."""
    return [
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict)
        and info.json_schema_extra.get("format") == "password"
    ]


def task_marker(public_id: str) -> str:
    """What an adapter writes into a draft where the platform keeps it unseen (an HTML comment
    in the body), so a draft whose creation answer was lost is known as this task's."""
    return f"<!-- contenthub:{public_id} -->"


@dataclass(frozen=True)
class FoundDraft:
    """A draft as a platform's draft list shows it."""

    id: str
    title: str
    created_at: float | None  # Unix time; None: the platform does not say
    body: str = ""


def unix_time(value: object) -> float | None:
    """A time a platform sent — Unix seconds (number or digits), ISO 8601 text or a datetime —
    as Unix time; a time without a zone is UTC. None for nothing or anything unreadable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, datetime):
        try:
            return float(str(value))
        except ValueError:
            pass
        try:
            value = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def lost_drafts(
    found: list[FoundDraft], task: TaskContent, checkpoints: Mapping[str, Any], marker: str | None
) -> list[FoundDraft]:
    """The drafts in ``found`` this task created without learning their ids: the same title,
    created since the task first asked for a draft (less the clock skew), and carrying
    ``marker`` in their body where the adapter writes one. Oldest first."""
    requested = checkpoints.get(DRAFT_REQUESTED_AT)
    if not requested:
        return []
    since = datetime.fromisoformat(str(requested)).timestamp() - CLOCK_SKEW_SECONDS
    mine = [
        d
        for d in found
        if d.title == task.title
        and (d.created_at is None or d.created_at >= since)
        and (marker is None or marker in d.body)
    ]
    return sorted(mine, key=lambda d: (d.created_at or 0.0, d.id))


async def recover_lost_draft(
    ctx: PublishContext,
    task: TaskContent,
    *,
    listed: Callable[[], Awaitable[list[FoundDraft]]],
    delete: Callable[[str], Awaitable[None]] | None,
    describe: Callable[[str], str],
    marker: str | None = None,
) -> str | None:
    """Before a draft is created again: find the one an earlier attempt created without
    learning its id (the answer was lost, or the worker died before the checkpoint). The
    oldest found is kept (checkpointed as ``draft_id``) and returned; any others are deleted,
    or, where the platform cannot delete them, listed on the task as leftovers."""
    if "draft_id" in ctx.checkpoints or not ctx.checkpoints.get(DRAFT_REQUESTED_AT):
        return None
    try:
        drafts = await listed()
    except Rejected as error:  # the platform refused the list (Transient: a retry looks again)
        note = f"a draft titled {task.title!r} from an earlier attempt may be left on the"
        await note_leftovers(ctx, [f"{note} platform (its drafts could not be listed: {error})"])
        return None
    mine = lost_drafts(drafts, task, ctx.checkpoints, marker)
    if not mine:
        return None
    keep, *extra = mine
    await ctx.checkpoint("draft_id", keep.id)
    left = []
    for draft in extra:
        try:
            if delete is None:
                raise Rejected("the platform has no way to delete a draft")
            await delete(draft.id)
        except PublishError:
            left.append(describe(draft.id))
    await note_leftovers(ctx, left)
    return keep.id


async def published_from_draft(
    ctx: PublishContext,
    article_of_draft: Callable[[str], Awaitable[str | None]],
    page_of: Callable[[str], str],
) -> PublishResult | None:
    """``find_published`` where a draft becomes an article with an id of its own (Juejin,
    SegmentFault): the checkpointed article, else the one the platform says the checkpointed
    draft became, else None."""
    article_id = ctx.checkpoints.get("post_id")
    if not article_id and ctx.checkpoints.get("draft_id"):
        article_id = await article_of_draft(str(ctx.checkpoints["draft_id"]))
    if not article_id:
        return None
    return PublishResult(url=page_of(str(article_id)), post_id=str(article_id))


async def note_draft_request(ctx: PublishContext) -> None:
    """Checkpoint the time just before a draft is first created (``DRAFT_REQUESTED_AT``)."""
    if not ctx.checkpoints.get(DRAFT_REQUESTED_AT):
        await ctx.checkpoint(DRAFT_REQUESTED_AT, datetime.now(UTC).isoformat())


async def publish_once(
    ctx: PublishContext,
    *,
    look_up: Callable[[], Awaitable[str | None]],
    submit: Callable[[], Awaitable[str]],
    key: str = "url",
) -> str:
    """The step that makes a draft public, at most once: its result (the URL, or the post id
    with ``key``) is checkpointed. After a submit whose answer may have been lost, the
    platform is asked first (``look_up``) and the submit is sent again only if it says no.
    The progress report before the submit is the last point where a cancel still applies."""
    if ctx.checkpoints.get(key):
        return str(ctx.checkpoints[key])
    if ctx.checkpoints.get(PUBLISH_SUBMITTED):
        found = await look_up()
        if found:
            await ctx.checkpoint(key, found)
            return found
    await ctx.progress(65, "publish")
    await ctx.checkpoint(PUBLISH_SUBMITTED, True)
    result = await submit()
    await ctx.checkpoint(key, result)
    return result


async def note_leftovers(ctx: PublishContext, descriptions: list[str]) -> None:
    """Record drafts that could not be cleaned up, for the user to see on the task."""
    if descriptions:
        known = list(ctx.checkpoints.get(LEFTOVERS) or [])
        await ctx.checkpoint(LEFTOVERS, known + [d for d in descriptions if d not in known])


@dataclass(frozen=True)
class PublishResult:
    url: str | None
    post_id: str | None = None
    # The platform accepted the post but holds it for review: ``url`` is where it will be.
    in_review: bool = False
    # The account's existing post was edited in place (a republish that updates), not created.
    updated: bool = False


@dataclass(frozen=True)
class ReviewState:
    """Where a post the platform accepted stands: ``live`` (public, at ``url``), still
    ``in_review``, or ``refused`` by the review (``reason`` in the platform's words)."""

    state: Literal["live", "in_review", "refused"]
    url: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Identity:
    """Who an account is logged in as on its platform."""

    user_id: str
    name: str


@dataclass(frozen=True)
class Verification:
    """What the platform shows for a published post."""

    public: bool
    url: str | None
    detail: str = ""


class PublishContext(Protocol):
    """Given to ``publish``: progress, durable checkpoints and cancellation."""

    @property
    def checkpoints(self) -> Mapping[str, Any]:
        """Side effects recorded by an earlier attempt of this same task."""
        ...

    @property
    def cancelled(self) -> bool: ...

    async def progress(self, percent: int, stage: str) -> None:
        """Report progress; raises PublishCancelled if the user cancelled meanwhile."""
        ...

    async def checkpoint(self, key: str, value: Any) -> None:
        """Record a side effect durably before going on; a rerun resumes from it."""
        ...


class Publisher(ABC):
    """One platform. Every method raises only the error classes of ``contenthub.errors``."""

    platform: ClassVar[str]
    # The pacing an account of this platform needs between publish starts, in seconds: what
    # to give its ``min_interval_seconds`` (0: the platform sets no such limit).
    min_interval_seconds: ClassVar[float] = 0.0
    # What an account's ``base_url`` option may be (checked when the account is saved, by
    # ``outbound.check_base_url``): "fixed" — the platform has one address, so an override
    # (a sandbox, a mirror) must name a host an administrator allowed; "site" — self-hosted
    # (WordPress, Ghost …), the account names its own site: any public http(s) address;
    # "display" — only written into links, never fetched.
    base_url_use: ClassVar[Literal["fixed", "site", "display"]] = "fixed"
    # What an account of this platform is given: its options (shown back) and its credentials
    # (sealed, write-only). Built-in adapters declare both; a plugin that does not gets any.
    options_model: ClassVar[type[BaseModel]] = AnyOptions
    credentials_model: ClassVar[type[BaseModel]] = AnyCredentials
    # Where a person logs in on the web (cookie platforms): ``contenthub account login``.
    login_page: ClassVar[LoginPage | None] = None
    # What the platform offers (``contenthub platforms``); None: a plugin that does not say.
    features: ClassVar[Features | None] = None
    # The platform may hold a new post for review before it is public: a publish it accepted
    # whose page is not visible yet asks ``review_state`` instead of retrying.
    holds_for_review: ClassVar[bool] = False
    # What the platform requires of an article and its limits, checked before a task is
    # queued (``platforms.requirements.check``); the adapter applies the same numbers.
    requires: ClassVar[Requirements] = Requirements()

    def default_notes(self, options: Mapping[str, Any]) -> list[str]:
        """Defaults this adapter will apply for an account with ``options`` (said in the
        preview, e.g. Juejin's category when the account names none)."""
        return []

    @abstractmethod
    async def publish(self, ctx: PublishContext, task: TaskContent) -> PublishResult:
        """Publish once, resuming from ``ctx.checkpoints`` so a rerun never posts twice."""

    async def find_published(self, ctx: PublishContext, task: TaskContent) -> PublishResult | None:
        """The final check before a task ends failed: is this task's post live on the platform
        although no attempt saw it (an answer lost, a worker killed after the platform
        committed)? Only reads, from ``ctx.checkpoints``; never publishes. ``None``: not
        published. Raises NotImplementedError when the adapter cannot ask (plugins)."""
        raise NotImplementedError(f"the {self.platform} adapter cannot look up a post")

    async def check_login(self, account: AccountAccess) -> Identity:
        """Who the account's credentials log in as; raises AuthExpired when they do not.
        Every built-in adapter overrides this; plugins that cannot tell say so."""
        raise NotImplementedError(f"the {self.platform} adapter cannot check a login")

    async def verify(self, account: AccountAccess, result: PublishResult) -> Verification:
        """Fetch the published post as the public sees it: is it visible, at what URL.
        By default: the result's http(s) URL, fetched without credentials, answers 200."""
        from contenthub.platforms.transport import page_is_public

        if not result.url or not result.url.startswith(("http://", "https://")):
            return Verification(public=False, url=result.url, detail="no web address to fetch")
        public, detail = await page_is_public(account.options, result.url, self.platform)
        return Verification(public=public, url=result.url, detail=detail)

    async def review_state(self, account: AccountAccess, result: PublishResult) -> ReviewState:
        """Where the post stands with the platform's review (the ``review_check`` job asks).
        By default from its public page: visible is ``live``, anything else ``in_review``;
        adapters whose platform reports review outcomes ask it (and can tell ``refused``)."""
        verification = await self.verify(account, result)
        if verification.public:
            return ReviewState("live", verification.url or result.url)
        return ReviewState("in_review", result.url, verification.detail)

    async def confirm_public(
        self,
        ctx: PublishContext,
        account: AccountAccess,
        result: PublishResult,
        *,
        noun: str = "article",
    ) -> PublishResult:
        """The last step of every publish: report "verify" at 90 %, then hand ``result`` back
        only once the public can see the post. A platform that ``holds_for_review`` is asked
        first: a post in review is handed back ``in_review`` (the task waits for the review,
        not for retries), one the review refused is Rejected with its reason. Otherwise
        Transient: the retry resumes from the checkpoints (nothing is posted twice) and looks
        again."""
        await ctx.progress(90, "verify")
        verification = await self.verify(account, result)
        if verification.public:
            return result
        if self.holds_for_review:
            review = await self.review_state(account, result)
            if review.state == "in_review":
                return replace(result, in_review=True)
            if review.state == "refused":
                raise Rejected(f"the platform's review refused the {noun}: {review.reason}")
        raise Transient(f"the {noun} is not visible yet at {result.url} ({verification.detail})")
