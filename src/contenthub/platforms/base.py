"""The adapter interface. Adapters are leaves: they depend on this module, the renderer and
their HTTP/browser clients, nothing else."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from contenthub.errors import Transient


@dataclass(frozen=True)
class PublishResult:
    url: str | None
    post_id: str | None = None


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


@dataclass(frozen=True)
class AccountAccess:
    """An account as an adapter sees it: its options and its decrypted credentials."""

    name: str
    options: Mapping[str, Any]
    credentials: Mapping[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class TaskContent:
    """What is published: the task's snapshot, plus the account it goes through."""

    public_id: str
    title: str
    body: str
    tags: list[str]
    cover: str | None
    account_name: str
    options: Mapping[str, Any]
    credentials: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @property
    def account(self) -> AccountAccess:
        return AccountAccess(self.account_name, self.options, self.credentials)


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

    @abstractmethod
    async def publish(self, ctx: PublishContext, task: TaskContent) -> PublishResult:
        """Publish once, resuming from ``ctx.checkpoints`` so a rerun never posts twice."""

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

    async def confirm_public(
        self,
        ctx: PublishContext,
        account: AccountAccess,
        result: PublishResult,
        *,
        noun: str = "article",
    ) -> PublishResult:
        """The last step of every publish: report "verify" at 90 %, then hand ``result`` back
        only once the public can see the post. Otherwise Transient: the retry resumes from the
        checkpoints (nothing is posted twice) and looks again."""
        await ctx.progress(90, "verify")
        verification = await self.verify(account, result)
        if not verification.public:
            raise Transient(
                f"the {noun} is not visible yet at {result.url} ({verification.detail})"
            )
        return result
