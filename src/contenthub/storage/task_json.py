"""A listing of tasks as JSON, each task's object written by the database itself.

A listing of 50 tasks spent most of its time turning rows into Python values (times parsed,
the checkpoint decoded, a dict per row) only to turn them into JSON again. On SQLite and
PostgreSQL the statement now builds each task's JSON object (``json_object`` /
``json_build_object``), and Python only joins 50 strings (decisions §34). MariaDB, whose
``JSON_OBJECT`` cannot write a boolean from a ``TINYINT``, keeps the rows and writes the same
JSON from them. Both give exactly what the API's model (``TaskOut``) would: times as
pydantic writes them (``…T12:00:00Z``, ``…T12:00:00.123456Z``), ``leftovers``/``warnings``
from the checkpoint, and so on; ``tests/db/test_task_json.py`` compares them on every database.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_json
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from contenthub.platforms.content import LEFTOVERS, UPDATE_OF, WARNINGS
from contenthub.storage.events import TASKS
from contenthub.storage.models import UTCDateTime
from contenthub.storage.tasks import TaskFilter, listing_params, listing_select, task_rows_of

# Names a listing shows that are not a column of their own.
_FROM_CHECKPOINT = {"leftovers": LEFTOVERS, "warnings": WARNINGS}
_NOT_LISTED = "held"  # a listing does not look up accounts; a task's page does


def task_list_json(
    session: Session,
    *,
    user_id: int | None,
    fields: Sequence[str],
    where: TaskFilter = TaskFilter(),
    before: str | None = None,
    limit: int = 50,
) -> list[tuple[str, str]]:
    """:func:`~contenthub.storage.tasks.task_list`'s tasks as (public id, JSON object of
    ``fields``) pairs, newest first. ``fields`` are the answer's names: ``id`` is the public
    id, ``leftovers``/``warnings``/``updates`` come from the checkpoint, ``held`` is null and
    every other name is the column's."""
    params = listing_params(session, user_id, where, before)
    dialect = session.get_bind().dialect.name
    query = _json_query(dialect, tuple(fields), frozenset(params))
    # The session's connection: a Core statement needs none of the ORM's execution.
    result = session.connection().execute(query, {**params, "limit": limit})
    if dialect in _BUILDERS:
        return [(public_id, text) for public_id, text in result]
    return [(row["public_id"], _written(row, fields)) for row in task_rows_of(result)]


def _written(row: dict[str, Any], fields: Sequence[str]) -> str:
    shown = {name: row.get("public_id" if name == "id" else name) for name in fields}
    return to_json(shown).decode()


@functools.cache  # a few dialects × one field list × at most 2**9 filter combinations
def _json_query(
    dialect: str, fields: tuple[str, ...], conditions: frozenset[str]
) -> sa.Select[Any]:
    builder = _BUILDERS.get(dialect)
    if builder is None:
        return listing_select(_columns_for(fields), conditions)
    pairs = [part for name in fields for part in (_quoted(name), _value(builder, name))]
    return listing_select([TASKS.c.public_id, builder.object(pairs)], conditions)


def _columns_for(fields: tuple[str, ...]) -> list[sa.Column[Any]]:
    """The columns a row must carry for ``_written`` to show ``fields``."""
    names = {"public_id", "checkpoint"}
    names |= {n for n in fields if n not in {"id", "updates", _NOT_LISTED, *_FROM_CHECKPOINT}}
    return [TASKS.c[name] for name in sorted(names)]


def _value(builder: _Builder, name: str) -> ColumnElement[Any]:
    checkpoint = TASKS.c.checkpoint
    if name == "id":
        return TASKS.c.public_id
    if name == _NOT_LISTED:
        return sa.null()
    if name in _FROM_CHECKPOINT:
        return builder.array_in(checkpoint, _FROM_CHECKPOINT[name])
    if name == "updates":
        return builder.text_in(checkpoint, UPDATE_OF, "post_id")
    column = TASKS.c[name]  # a KeyError names a field the table does not have
    if isinstance(column.type, UTCDateTime):
        return builder.time(column)
    if isinstance(column.type, sa.Boolean):
        return builder.boolean(column)
    return column


def _quoted(text: str) -> ColumnElement[Any]:
    """A constant written into the statement (names and paths are ours, never a user's)."""
    assert "'" not in text
    return sa.literal_column(f"'{text}'")


class _Builder:
    """How one database writes a task's JSON object."""

    def object(self, pairs: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        raise NotImplementedError

    def time(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        raise NotImplementedError

    def boolean(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column

    def array_in(self, checkpoint: ColumnElement[Any], key: str) -> ColumnElement[Any]:
        raise NotImplementedError

    def text_in(self, checkpoint: ColumnElement[Any], key: str, inner: str) -> ColumnElement[Any]:
        raise NotImplementedError


class _SQLite(_Builder):
    """Times are kept as text, ``2026-01-02 03:04:05.000000``."""

    def object(self, pairs: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        return sa.func.json_object(*pairs)

    def time(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # The date's only space becomes the ``T``; a zero fraction, which pydantic leaves
        # out, can only be the text's end (two string functions: a CASE of substrings cost
        # a third of the listing's statement).
        iso = sa.func.replace(
            sa.func.replace(column, _quoted(" "), _quoted("T")), _quoted(".000000"), _quoted("")
        )
        return iso.concat(_quoted("Z"))

    def boolean(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.case(
            (column, sa.func.json(_quoted("true"))), else_=sa.func.json(_quoted("false"))
        )

    def array_in(self, checkpoint: ColumnElement[Any], key: str) -> ColumnElement[Any]:
        path = _quoted(f"$.{key}")
        return sa.case(
            (
                sa.func.json_type(checkpoint, path) == _quoted("array"),
                sa.func.json(sa.func.json_extract(checkpoint, path)),
            ),
            else_=sa.func.json(_quoted("[]")),
        )

    def text_in(self, checkpoint: ColumnElement[Any], key: str, inner: str) -> ColumnElement[Any]:
        return sa.func.json_extract(checkpoint, _quoted(f"$.{key}.{inner}"))


class _PostgreSQL(_Builder):
    """Times are ``timestamp without time zone`` in UTC; the checkpoint is ``json``."""

    def object(self, pairs: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        # As text: the driver would otherwise decode the JSON it is meant to pass on.
        return sa.cast(sa.func.json_build_object(*pairs), sa.Text)

    def time(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.case(
            (
                sa.func.date_trunc(_quoted("second"), column) == column,
                sa.func.to_char(column, _quoted('YYYY-MM-DD"T"HH24:MI:SS"Z"')),
            ),
            else_=sa.func.to_char(column, _quoted('YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        )

    def array_in(self, checkpoint: ColumnElement[Any], key: str) -> ColumnElement[Any]:
        value = checkpoint.op("->")(_quoted(key))
        return sa.case(
            (sa.func.json_typeof(value) == _quoted("array"), value),
            else_=sa.literal_column("'[]'::json"),
        )

    def text_in(self, checkpoint: ColumnElement[Any], key: str, inner: str) -> ColumnElement[Any]:
        return checkpoint.op("->")(_quoted(key)).op("->>")(_quoted(inner))


_BUILDERS: dict[str, _Builder] = {"sqlite": _SQLite(), "postgresql": _PostgreSQL()}
