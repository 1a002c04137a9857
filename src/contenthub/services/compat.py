"""The old TOP_N system's words over ours: which account its endpoints publish to, its status
names, and its task shape. The publishing, the limits and the scoping are the shared
services'; this module only translates (decisions §25)."""

from __future__ import annotations

from typing import Any

from contenthub import storage
from contenthub.errors import InputError
from contenthub.services.users import Principal
from contenthub.states import TaskStatus
from contenthub.storage import Session

ZHIHU = "zhihu"
# Where a user's default account is used: the old endpoints publish to Zhihu only.
DEFAULT_PLATFORMS = frozenset({ZHIHU})
CANCELLED_MESSAGE = "任务已取消"

# The old system knew five statuses; its front end shows nothing else. A cancelled task ends
# and may be retried, which is what its ``failed`` meant: it shows as failed, and its error
# message says it was cancelled.
OLD_STATUS: dict[str, str] = {
    TaskStatus.SCHEDULED: "pending",
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "running",
    TaskStatus.SUCCEEDED: "success",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "failed",
}
# An old status name in a filter, as ours (``failed`` takes in the cancelled ones).
OUR_STATUSES: dict[str, list[TaskStatus]] = {
    "pending": [TaskStatus.SCHEDULED],
    "queued": [TaskStatus.QUEUED],
    "running": [TaskStatus.RUNNING],
    "success": [TaskStatus.SUCCEEDED],
    "failed": [TaskStatus.FAILED, TaskStatus.CANCELLED],
}


def default_account(session: Session, principal: Principal, platform: str = ZHIHU) -> int:
    """The account the old endpoints publish to: the one marked default on ``platform``, or
    the only one the user has there. Several without a default is the user's choice to make."""
    mine = [
        a
        for a in storage.account_list(session, user_id=principal.user_id)
        if a.platform == platform
    ]
    chosen = [a for a in mine if a.is_default] or (mine if len(mine) == 1 else [])
    if chosen:
        return chosen[0].id
    if not mine:
        raise InputError("account", f"this user has no {platform} account; add one first")
    names = ", ".join(a.name for a in mine)
    raise InputError(
        "account",
        f"this user has {len(mine)} {platform} accounts ({names}) and none is the default; "
        f"choose one on the dashboard's Accounts page, or: contenthub account update NAME "
        f'--default (or PATCH /api/v1/accounts/ID {{"is_default": true}})',
    )


def old_task(row: dict[str, Any]) -> dict[str, Any]:
    """A task as the old ``GET /api/publish_task/<task_id>`` showed it, field for field."""
    status = OLD_STATUS[row["status"]]
    if row["status"] == TaskStatus.CANCELLED:
        error = CANCELLED_MESSAGE
    elif status == "failed":
        error = row["error_message"]
    else:
        error = None
    return {
        "task_id": row["public_id"],
        "status": status,
        "progress": 100 if status == "success" else int(row["progress"] or 0),
        "article_title": row["title"],
        "result_url": row["result_url"],
        "error_message": error,
    }


def our_statuses(old: list[str]) -> list[TaskStatus]:
    """Old status names (a filter) as ours; an unknown name is bad input naming the choices."""
    ours: list[TaskStatus] = []
    for name in old:
        if name not in OUR_STATUSES:
            raise InputError("status", f"{name!r} is not one of {', '.join(OUR_STATUSES)}")
        ours += OUR_STATUSES[name]
    return ours
