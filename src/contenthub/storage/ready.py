"""The ready state: which users and accounts the claim looks at (decisions §23).

``accounts.ready_at`` is a lower bound of the first time the account may start a task (NULL:
not before something changes); ``users.turn_at`` is the user's place in the claim's walk,
``max(earliest ready account, last_served_at)`` (NULL: not before something changes). The
claim walks ``turn_at <= now`` only, so idle, paced, capped, held and busy users and accounts
cost it nothing.

Two kinds of writer keep it exact:

- **Lowering** (here): every change that may let something start — a task queued, a running
  task ended, an account re-activated or its limits changed — marks the user and the
  accounts "look again" in the same transaction, without reading anything: the user's
  ``turn_at`` goes back to its ``last_served_at`` (its place in the turn order), the
  accounts' ``ready_at`` to the epoch. Users are written first, in id order, then accounts,
  the claim's own lock order, so the two never deadlock.
- **Raising** (the claim, :mod:`contenthub.storage.claim`): only while it holds the user's row
  lock, from what it reads after taking it. A lowering writer must take that same row lock
  (its UPDATE), so it either committed before the claim read (the claim sees its change) or
  writes after the claim committed (its lowering wins). A stale "look again" costs the claim
  one probe, which sets the exact next time; a missed task is impossible.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.storage.models import EPOCH, Account, PublishTask, User

USERS = User.__table__
ACCOUNTS = Account.__table__
TASKS = PublishTask.__table__


def user_turn_back(session: Session, user_ids: Collection[int], now: datetime) -> None:
    """These users may have something to start: back to their place in the turn order
    (never later than ``now``, whatever clock served them last)."""
    if user_ids:
        session.connection().execute(_TURN_BACK, {"users": sorted(user_ids), "now": now})


def mark_accounts_ready(
    session: Session, user_ids: Collection[int], account_ids: Collection[int], now: datetime
) -> None:
    """Something may start on these accounts (of these users): the claim looks again."""
    user_turn_back(session, user_ids, now)
    if account_ids:
        session.connection().execute(
            _ACCOUNTS_READY, {"accounts": sorted(account_ids), "epoch": EPOCH}
        )


# Built once: every enqueue and completion sends them, and building a statement (its cache
# key most of all) cost more than SQLite running it.
_NOW = sa.bindparam("now", type_=USERS.c.last_served_at.type)
_TURN_BACK = (
    sa.update(USERS)
    .where(USERS.c.id.in_(sa.bindparam("users", expanding=True)))
    .values(turn_at=sa.case((USERS.c.last_served_at > _NOW, _NOW), else_=USERS.c.last_served_at))
    .execution_options(synchronize_session=False)
)
_ACCOUNTS_READY = (
    sa.update(ACCOUNTS)
    .where(ACCOUNTS.c.id.in_(sa.bindparam("accounts", expanding=True)))
    .values(ready_at=sa.bindparam("epoch", type_=ACCOUNTS.c.ready_at.type))
    .execution_options(synchronize_session=False)
)


def mark_tasks_accounts_ready(
    session: Session, user_ids: Collection[int], task_ids: Collection[int], now: datetime
) -> None:
    """As :func:`mark_accounts_ready`, for the accounts of these tasks (no read first)."""
    user_turn_back(session, user_ids, now)
    if task_ids:
        of_tasks = sa.select(TASKS.c.account_id).where(TASKS.c.id.in_(sorted(task_ids)))
        session.execute(
            sa.update(ACCOUNTS)
            .where(ACCOUNTS.c.id.in_(of_tasks))
            .values(ready_at=EPOCH)
            .execution_options(synchronize_session=False)
        )
