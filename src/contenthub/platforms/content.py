"""What a publish carries and what it leaves behind, as the dispatcher and the storage read it:
the task content an adapter is given, and the checkpoint keys more than adapters read.

Kept apart from ``base`` (adapters, HTTP sessions, rendering) so that storage, and a command
that only reads tasks, need none of those.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Stores a session the platform refreshed (cookies it set during a publish or a check).
SessionSaver = Callable[[dict[str, Any]], Awaitable[None]]

# -- checkpoint keys the dispatcher reads too ----------------------------------------------------

# Written by every adapter just before it asks the platform to make the post public: from then
# on a lost answer may hide a live post, so no attempt may end the task failed without asking.
PUBLISH_SUBMITTED = "publish_submitted"
# Written just before a draft is created, with the time (ISO 8601, UTC): a draft whose creation
# answer was lost is looked for from then on (by title, that time window and the task's marker).
DRAFT_REQUESTED_AT = "draft_requested_at"
# Drafts this task left on the platform that could not be cleaned up: shown to the user.
LEFTOVERS = "leftovers"
# What of the article the platform cannot take (render.content_warnings): shown to the user.
WARNINGS = "warnings"
# How far a platform's clock may be behind ours when drafts are looked for by creation time.
CLOCK_SKEW_SECONDS = 300.0


def may_have_published(checkpoints: Mapping[str, Any]) -> bool:
    """Whether a post may be live although no attempt saw it: a publish was submitted."""
    return bool(checkpoints.get(PUBLISH_SUBMITTED))


# The checkpoint key under which a task that updates an existing post carries that post (set
# when the task is queued, from the account's latest succeeded publish of the article).
UPDATE_OF = "update_of"


@dataclass(frozen=True)
class PriorPost:
    """The post a publish updates: the earlier task's post id, URL and checkpoints (its
    draft id, uploaded images …), as that task left them."""

    post_id: str
    url: str | None
    checkpoints: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_checkpoints(cls, checkpoints: Mapping[str, Any]) -> PriorPost | None:
        prior = checkpoints.get(UPDATE_OF)
        if not isinstance(prior, Mapping) or not prior.get("post_id"):
            return None
        return cls(str(prior["post_id"]), prior.get("url"), dict(prior.get("checkpoints") or {}))


@dataclass(frozen=True)
class AccountAccess:
    """An account as an adapter sees it: its options and its decrypted credentials."""

    name: str
    options: Mapping[str, Any]
    credentials: Mapping[str, Any] = field(repr=False, default_factory=dict)
    # Stores a session the platform refreshed (cookies it set during a publish or a check),
    # sealed, back to the account; None where nothing is saved.
    save_session: SessionSaver | None = field(default=None, repr=False, compare=False)


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
    save_session: SessionSaver | None = field(default=None, repr=False, compare=False)
    # The post this publish updates in place; None: a new post.
    update_of: PriorPost | None = None
    # Images stored with the article, by the name the body refers to them: (type, bytes).
    attachments: Mapping[str, tuple[str, bytes]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def account(self) -> AccountAccess:
        return AccountAccess(self.account_name, self.options, self.credentials, self.save_session)
