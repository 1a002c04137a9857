"""What a caller does with tasks: list, show, cancel, retry (one task or a whole batch).

Each takes the caller's :class:`Principal` and is scoped by it; a task id may be given as a
unique prefix where a person types it (``prefix=True``, the CLI), never guessed when it is
ambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from contenthub import storage
from contenthub.browser.artifacts import artifacts_root, task_artifact, task_artifacts
from contenthub.errors import InputError, NotFound
from contenthub.services.users import Principal
from contenthub.states import TaskStatus
from contenthub.storage import ControlResult, Database, Session, TaskFilter

Row = dict[str, Any]


def task_page(
    db: Database,
    principal: Principal,
    where: TaskFilter = TaskFilter(),
    *,
    before: str | None = None,
    limit: int = 50,
) -> list[Row]:
    """Newest first; ``before`` (a task id) pages backwards."""
    _check_times(where)
    return db.read(
        lambda s: storage.task_list(
            s, user_id=principal.scope, where=where, before=before, limit=limit
        )
    )


def task_page_json(
    db: Database,
    principal: Principal,
    fields: Sequence[str],
    where: TaskFilter = TaskFilter(),
    *,
    before: str | None = None,
    limit: int = 50,
) -> list[tuple[str, str]]:
    """:func:`task_page` as (task id, JSON object of ``fields``) pairs, for the API's listing
    (``storage.task_list_json``)."""
    _check_times(where)
    return db.read(
        lambda s: storage.task_list_json(
            s, user_id=principal.scope, fields=fields, where=where, before=before, limit=limit
        )
    )


def _check_times(where: TaskFilter) -> None:
    for name, value in (
        ("created_after", where.created_after),
        ("created_before", where.created_before),
    ):
        if value is not None and value.tzinfo is None:
            raise InputError(name, "must carry a time zone, e.g. 2026-02-06T12:00:00Z")


def task_rows(db: Database, principal: Principal, ids: Sequence[str]) -> list[Row]:
    """The tasks, each with ``held`` (see :func:`held_by_account`)."""

    def work(s: Session) -> list[Row]:
        tasks = [storage.task_get(s, i, user_id=principal.scope) for i in ids]
        return [{**t, "held": held_by_account(s, t)} for t in tasks]

    return db.read(work)


def held_by_account(s: Session, task: Row) -> Row | None:
    """Why a waiting task does not start although it is due: its account is not active (the
    claim takes tasks of active accounts only). The account, why (the reason stored when it
    was marked) and the command that fixes it; None when the task is not held."""
    if task["status"] not in (TaskStatus.QUEUED, TaskStatus.SCHEDULED):
        return None
    account = storage.account_find(s, task["account_id"], user_id=None)
    if account.status == "active":
        return None
    if account.status == "needs_login":
        why = account.status_message or "marked as needing a login"
        fix = f"contenthub account login {account.name}"
    else:
        why = account.status_message or "the account is disabled"
        fix = f"contenthub account activate {account.name}"
    return {"account": account.name, "status": account.status, "reason": why, "fix": fix}


def task_detail(
    db: Database, principal: Principal, ref: str, *, prefix: bool = False
) -> tuple[Row, list[Row]]:
    """A task (with ``held``, see :func:`held_by_account`) and its timeline, oldest first."""

    def work(s: Session) -> tuple[Row, list[Row]]:
        task = storage.task_get(s, _resolve(s, principal, ref, prefix), user_id=principal.scope)
        return {**task, "held": held_by_account(s, task)}, storage.task_events(s, task["id"])

    return db.read(work)


def task_screenshots(db: Database, principal: Principal, task: Row, data_dir: Path) -> list[Path]:
    """The screenshots a failed browser step kept for ``task`` (a row ``principal`` may read)."""
    return task_artifacts(artifacts_root(data_dir), str(task["public_id"]))


def task_screenshot(
    db: Database, principal: Principal, ref: str, name: str, data_dir: Path
) -> Path:
    """One screenshot of one of ``principal``'s tasks (NotFound for anyone else's)."""
    task, _ = task_detail(db, principal, ref)
    path = task_artifact(artifacts_root(data_dir), str(task["public_id"]), name)
    if path is None:
        raise NotFound("screenshot", name)
    return path


def task_cancel(
    db: Database, principal: Principal, ref: str, *, now: datetime, prefix: bool = False
) -> tuple[ControlResult, Row]:
    """At once if it waits; at its next step if it runs. Returns the outcome and the task."""
    return db.write(lambda s: _control(s, principal, ref, "cancel", now, prefix))


def task_retry(
    db: Database, principal: Principal, ref: str, *, now: datetime, prefix: bool = False
) -> tuple[ControlResult, Row]:
    """A failed or cancelled task again, with a fresh attempt budget; a cancelled scheduled
    task whose time is still ahead waits for that time again."""
    return db.write(lambda s: _control(s, principal, ref, "retry", now, prefix))


Action = Literal["cancel", "retry"]


def _control(
    s: Session, principal: Principal, ref: str, action: Action, now: datetime, prefix: bool
) -> tuple[ControlResult, Row]:
    public_id = _resolve(s, principal, ref, prefix)
    operation = storage.task_cancel if action == "cancel" else storage.task_retry
    result = operation(s, public_id, user_id=principal.scope, now=now)
    return result, storage.task_get(s, public_id, user_id=principal.scope)


def batch_apply(
    db: Database, principal: Principal, batch_id: str, *, action: Action, now: datetime
) -> tuple[list[str], list[str]]:
    """Cancel or retry every task of a batch that allows it; the rest are reported skipped.

    One transaction per task, so one task's refusal never undoes another's change."""
    ids = db.read(lambda s: storage.task_ids_of_batch(s, batch_id, user_id=principal.scope))
    if not ids:
        raise NotFound("batch", batch_id)
    operation = storage.task_cancel if action == "cancel" else storage.task_retry
    changed, skipped = [], []
    for public_id in ids:
        try:
            db.write(lambda s, p=public_id: operation(s, p, user_id=principal.scope, now=now))
            changed.append(public_id)
        except InputError:
            skipped.append(public_id)
    return changed, skipped


def _resolve(s: Session, principal: Principal, ref: str, prefix: bool) -> str:
    return storage.task_resolve(s, ref, user_id=principal.scope) if prefix else ref
