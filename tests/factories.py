"""Test rows made through storage's own operations (so they obey its rules), at a fixed time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contenthub import storage
from contenthub.storage import NewTask, task_enqueue
from contenthub.storage.db import Database

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_user(db: Database, name: str, *, max_running: int = 10) -> int:
    return db.write(lambda s: storage.user_ensure(s, name, now=T0, max_running=max_running))


def make_account(
    db: Database, user_id: int, name: str, *, platform: str = "noop", **kwargs: Any
) -> int:
    return db.write(
        lambda s: storage.account_create(
            s, user_id=user_id, platform=platform, name=name, now=T0, **kwargs
        )
    )


def enqueue(
    db: Database,
    user_id: int,
    account_id: int,
    count: int = 1,
    *,
    now: datetime = T0,
    **kwargs: Any,
) -> list[str]:
    tasks = [
        NewTask(user_id=user_id, account_id=account_id, title=f"Post {i}", body="Hello", **kwargs)
        for i in range(count)
    ]
    return db.write(lambda s: task_enqueue(s, tasks, now=now))
