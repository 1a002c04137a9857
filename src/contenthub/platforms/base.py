"""The adapter interface. Adapters are leaves: they depend on this module, the renderer and
their HTTP/browser clients, nothing else."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contenthub.errors import Transient

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


class CookieCredentials(BaseModel):
    """A browser login: the platform's cookies, as a ``{name: value}`` map or a ``Cookie``
    header line, or a Playwright storage state (``{"cookies": [{"name", "value", …}]}``, what
    ``contenthub account login --cookies`` reads) from which the cookies are taken."""

    model_config = ConfigDict(extra="forbid")

    cookies: dict[str, str] | Annotated[str, Field(min_length=1, max_length=65_536)] = Field(
        json_schema_extra={"writeOnly": True}
    )
    storage_state: dict[str, Any] | None = Field(
        default=None, json_schema_extra={"writeOnly": True}
    )
    # For logging in through the platform's login page (``account login --password``); a
    # stored password also lets a worker log in again once when the cookies expire.
    username: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    password: Secret | None = None

    @model_validator(mode="before")
    @classmethod
    def _cookies_from_storage_state(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cookies" not in data:
            state = data.get("storage_state")
            jar = state.get("cookies") if isinstance(state, dict) else None
            if isinstance(jar, list) and jar:
                cookies = {
                    str(c["name"]): str(c.get("value", ""))
                    for c in jar
                    if isinstance(c, dict) and "name" in c
                }
                return {**data, "cookies": cookies}
        return data


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


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The fields of a credentials model whose values are secrets (prompted without echo)."""
    return [
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict)
        and info.json_schema_extra.get("format") == "password"
    ]


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
    # What an account of this platform is given: its options (shown back) and its credentials
    # (sealed, write-only). Built-in adapters declare both; a plugin that does not gets any.
    options_model: ClassVar[type[BaseModel]] = AnyOptions
    credentials_model: ClassVar[type[BaseModel]] = AnyCredentials
    # Where a person logs in on the web (cookie platforms): ``contenthub account login``.
    login_page: ClassVar[LoginPage | None] = None

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
