"""Rows scoped to their owner: someone else's row reads exactly like a missing one."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import NotFound

MAX_ID = 2**31 - 1


def owned(
    session: Session,
    model: type[Any],
    ident: int,
    *,
    scope: int | None,
    what: str,
    lock: bool = False,
) -> Any:
    """The row ``ident`` of ``model`` if it belongs to ``scope`` (None: anyone's).

    Someone else's row is reported exactly like a missing one, so ids cannot be probed; an
    id no column can hold (ids are 32-bit everywhere) is missing too, not a database error.
    """
    _refuse_impossible_id(ident, what)
    query = sa.select(model).where(model.id == ident)
    if scope is not None:
        query = query.where(model.user_id == scope)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(what, ident)
    return row


def owned_row(
    session: Session, table: sa.Table, ident: int, *, scope: int | None, what: str
) -> sa.Row[Any]:
    """As :func:`owned`, for reading: a plain row, without an ORM object to build and track
    (an article and an account are read on every publish)."""
    _refuse_impossible_id(ident, what)
    query = _owned_query(table, scope is not None)
    # The session's connection: a Core statement needs none of the ORM's execution (half of
    # the cost of running a small statement).
    found = session.connection().execute(query, {"ident": ident, "scope": scope}).first()
    if found is None:
        raise NotFound(what, ident)
    return found


@functools.cache
def _owned_query(table: sa.Table, scoped: bool) -> sa.Select[Any]:
    query = sa.select(table).where(table.c.id == sa.bindparam("ident"))
    return query.where(table.c.user_id == sa.bindparam("scope")) if scoped else query


def _refuse_impossible_id(ident: Any, what: str) -> None:
    if not isinstance(ident, int) or not 1 <= ident <= MAX_ID:
        raise NotFound(what, ident)
