"""What the sandbox remembers: accounts, posts, images, switched-on faults and the operations
it served. One instance per server, touched only from the server's event loop."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = (
    "login_expired",  # the session is gone: the platform's "not logged in" answer
    "rate_limited",  # HTTP 429 (or the platform's equivalent) with Retry-After
    "latency",  # every matching request waits min_ms..max_ms (uniform) before answering
    "server_error",  # HTTP 5xx
    "reject",  # the content is refused with `message`
    "crash_after_commit",  # the write is committed, then the answer never comes
    # Pages (platforms with a browser flow): struck when the editor page is served.
    "page_hang",  # the page never finishes loading (a resource that never arrives)
    "modal",  # a dialog over the page that nothing closes
    "selector_changed",  # the page's fields are rendered differently (the platform changed it)
    "anti_bot",  # Zhihu: API calls without the page's signature header are refused (10003)
    "risk_check",  # CSDN: the risk check wants a WeChat QR scan (code "1239") before a publish
)
PAGE_FAULTS = {"page_hang", "modal", "selector_changed"}
# Where a fault strikes when the switch does not say: content is judged when it is published,
# and the commit that matters is the one that makes the post public.
DEFAULT_OPERATION = {"reject": "publish", "crash_after_commit": "publish"}


@dataclass
class Fault:
    platform: str
    kind: str
    account: str | None = None  # an account name; None: every account of the platform
    on: str | None = None  # an operation name (login, image, draft, publish, …); None: any
    times: int | None = None  # how many requests it strikes; None: until cleared
    retry_after: float = 30.0
    status: int = 503
    message: str = "内容违反社区规范 / content violates the community rules"
    min_ms: float = 0.0
    max_ms: float = 0.0
    hang_seconds: float = 600.0
    id: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if self.on is None:
            self.on = DEFAULT_OPERATION.get(self.kind)

    def matches(self, platform: str, account: str | None, operation: str) -> bool:
        return (
            self.platform == platform
            and (self.account is None or self.account == account)
            and (self.on is None or self.on == operation)
            and (self.times is None or self.times > 0)
        )


@dataclass
class SandboxAccount:
    platform: str
    name: str
    user_id: str
    credentials: dict[str, Any]


@dataclass
class SandboxPost:
    platform: str
    id: str
    account: str
    title: str
    body: str
    tags: list[str]
    cover: str | None
    status: str  # draft | published
    url: str | None = None
    # A published post the platform holds for review: "" never held, "pending" (not public
    # yet), "approved" (public), "refused" (never public; ``review_reason`` says why).
    review: str = ""
    review_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)  # Unix time, as draft lists show it

    def summary(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def public(self) -> bool:
        return self.status == "published" and self.review in ("", "approved")


@dataclass
class StoredImage:
    data: bytes
    content_type: str


LoginKey = Callable[[dict[str, Any]], str]


class SandboxState:
    def __init__(self) -> None:
        # Accounts by (platform, login key: the session cookie or API key that finds them),
        # and by (platform, name).
        self.accounts: dict[tuple[str, str], SandboxAccount] = {}
        self.named: dict[tuple[str, str], SandboxAccount] = {}
        self.posts: dict[tuple[str, str], SandboxPost] = {}
        self.images: dict[str, StoredImage] = {}
        self.web_files: dict[str, StoredImage] = {}
        self.faults: list[Fault] = []
        self.operations: list[tuple[str, str | None, str]] = []
        self._ids = itertools.count(int(time.time()) % 1_000_000 * 1000 + 1)
        self._fault_ids = itertools.count(1)
        self.extra: dict[str, Any] = {}  # per-platform scratch (tokens, sessions)
        # Review holds: (platform, account name or None for every account) switched on.
        self.review_holds: set[tuple[str, str | None]] = set()

    # -- accounts and ids --------------------------------------------------------------

    def add_account(self, account: SandboxAccount, login_key: str) -> None:
        self.accounts[(account.platform, login_key)] = account
        self.named[(account.platform, account.name)] = account

    def account(self, platform: str, login_key: str) -> SandboxAccount | None:
        return self.accounts.get((platform, login_key))

    def find_account(self, platform: str, name: str) -> SandboxAccount | None:
        """An account by its name (what a person types into a login form)."""
        return self.named.get((platform, name))

    def issue_session(self, account: SandboxAccount) -> str:
        """A fresh session key for a login through the platform's login page."""
        key = secrets.token_hex(16)
        self.accounts[(account.platform, key)] = account
        return key

    def expire_sessions(self, platform: str, name: str | None = None) -> int:
        """Every session of the account (of every account: ``name`` None) stops working, as
        when the platform expires its cookies; a new login issues a new one."""
        gone = [
            key
            for key, account in self.accounts.items()
            if key[0] == platform and name in (None, account.name)
        ]
        for key in gone:
            del self.accounts[key]
        return len(gone)

    def new_id(self) -> str:
        return str(next(self._ids))

    # -- posts --------------------------------------------------------------------------

    def save_post(self, post: SandboxPost) -> SandboxPost:
        self.posts[(post.platform, post.id)] = post
        return post

    def post(self, platform: str, post_id: str) -> SandboxPost | None:
        return self.posts.get((platform, post_id))

    def posts_of(self, platform: str | None = None) -> list[SandboxPost]:
        return [p for p in self.posts.values() if platform in (None, p.platform)]

    def drafts_of(self, platform: str, account: str) -> list[SandboxPost]:
        """An account's drafts, newest first (what a platform's draft list shows)."""
        drafts = [
            p
            for p in self.posts.values()
            if p.platform == platform and p.account == account and p.status == "draft"
        ]
        return sorted(drafts, key=lambda p: (p.created_at, p.id), reverse=True)

    def delete_post(self, platform: str, post_id: str) -> None:
        self.posts.pop((platform, post_id), None)

    # -- review ---------------------------------------------------------------------------

    def hold_for_review(self, post: SandboxPost) -> None:
        """Called as a post is published: while a hold is on for its account, the post waits
        for a review (the admin API approves or refuses it) before the public sees it."""
        if (post.platform, post.account) in self.review_holds or (
            post.platform,
            None,
        ) in self.review_holds:
            post.review = post.review or "pending"

    def decide_review(self, platform: str, post_id: str, *, approve: bool, reason: str) -> None:
        post = self.post(platform, post_id)
        if post is None or post.review != "pending":
            raise ValueError(f"no {platform} post {post_id} waits for review")
        post.review = "approved" if approve else "refused"
        post.review_reason = "" if approve else reason or "内容不符合社区规范"

    # -- faults -------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        fault.id = next(self._fault_ids)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def _take(self, platform: str, account: str | None, operation: str, kinds: set[str]):
        for fault in self.faults:
            if fault.kind in kinds and fault.matches(platform, account, operation):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    async def before(self, platform: str, account: str | None, operation: str) -> Fault | None:
        """Called as a request arrives: waits out latency faults, records the operation, and
        returns the fault the platform must answer with instead, if one is switched on."""
        self.operations.append((platform, account, operation))
        latency = self._take(platform, account, operation, {"latency"})
        if latency is not None:
            await asyncio.sleep(
                random.uniform(latency.min_ms, max(latency.min_ms, latency.max_ms)) / 1000
            )
        return self._take(
            platform,
            account,
            operation,
            {"login_expired", "rate_limited", "server_error", "reject"},
        )

    def take_page_fault(self, platform: str, account: str | None) -> Fault | None:
        """The page fault to serve the editor page with, if one is switched on."""
        self.operations.append((platform, account, "page"))
        return self._take(platform, account, "page", PAGE_FAULTS)

    def anti_bot(self, platform: str, account: str | None) -> bool:
        """Is the platform's anti-bot check switched on (without using up a ``times``)?"""
        return self.switched_on("anti_bot", platform, account)

    def switched_on(self, kind: str, platform: str, account: str | None) -> bool:
        """Is a standing check of ``kind`` on for the account (without using up a ``times``)?"""
        return any(
            f.kind == kind and f.matches(platform, account, f.on or "any") for f in self.faults
        )

    async def after_commit(self, platform: str, account: str | None, operation: str) -> None:
        """Called once a write is committed: a crash_after_commit fault swallows the answer."""
        fault = self._take(platform, account, operation, {"crash_after_commit"})
        if fault is not None:
            await asyncio.sleep(fault.hang_seconds)

    def count(self, platform: str, operation: str) -> int:
        return sum(1 for p, _, op in self.operations if p == platform and op == operation)


def secret_for(platform: str, name: str, purpose: str) -> str:
    """Deterministic sandbox credentials, so demo accounts can be described without a server."""
    return hashlib.sha256(f"contenthub-sandbox:{platform}:{name}:{purpose}".encode()).hexdigest()[
        :32
    ]
