"""The API's listing, written by the database (``storage.task_list_json``), is what the API's
model writes from the same rows: every field, every kind of value, on every database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contenthub import storage
from contenthub.api.routers.tasks import LISTED_FIELDS, task_out
from contenthub.platforms.content import LEFTOVERS, UPDATE_OF, WARNINGS
from contenthub.storage import Database, TaskFilter
from contenthub.storage.events import TASKS
from tests.factories import T0, enqueue, make_account, make_user

ODD_TEXT = 'Quotes " and \\ back, 标题, tab\there, emoji 🚀, </script>'


def _set(db: Database, public_id: str, **values: object) -> None:
    db.write(lambda s: s.execute(sa.update(TASKS).where(TASKS.c.public_id == public_id), values))


def _as_the_model_writes(db: Database, user_id: int) -> dict[str, dict[str, object]]:
    rows = db.read(lambda s: storage.task_list(s, user_id=user_id, limit=100))
    return {row["public_id"]: json.loads(task_out(row).model_dump_json()) for row in rows}


def test_each_listed_task_is_the_json_its_model_writes(db: Database) -> None:
    user = make_user(db, "lister")
    account = make_account(db, user, "main")
    plain, done, odd, waiting = enqueue(db, user, account, 4)
    _set(
        db,
        done,
        status="succeeded",
        outcome="updated",
        post_id="p-1",
        result_url="https://example.com/p/1",
        started_at=T0 + timedelta(seconds=1),  # a whole second: written without a fraction
        finished_at=T0 + timedelta(seconds=2, microseconds=120_000),
        reviewed_at=T0 + timedelta(seconds=3, microseconds=7),
        progress=100,
        stage="done",
        checkpoint={UPDATE_OF: {"post_id": "p-0", "checkpoints": {}}, "other": [1, 2]},
    )
    _set(
        db,
        odd,
        title=ODD_TEXT,
        status="failed",
        error_class="rejected",
        error_message=ODD_TEXT + "\nsecond line",
        cancel_requested=True,
        checkpoint={LEFTOVERS: ["draft 1", ODD_TEXT], WARNINGS: ["<details> left out"]},
    )
    # Values a checkpoint may hold that are not lists: shown as empty lists, as the rows are.
    _set(db, waiting, status="scheduled", due_at=datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC))
    _set(db, plain, checkpoint={LEFTOVERS: None, WARNINGS: "not a list", UPDATE_OF: None})

    expected = _as_the_model_writes(db, user)
    listed = db.read(
        lambda s: storage.task_list_json(s, user_id=user, fields=LISTED_FIELDS, limit=100)
    )

    assert [public_id for public_id, _ in listed] == [waiting, odd, done, plain]
    for public_id, text in listed:
        assert json.loads(text) == expected[public_id], public_id
    by_id = {public_id: json.loads(text) for public_id, text in listed}
    assert by_id[done]["started_at"] == "2026-01-05T09:00:01Z"
    assert by_id[done]["reviewed_at"] == "2026-01-05T09:00:03.000007Z"
    assert by_id[done]["updates"] == "p-0"
    assert by_id[odd]["leftovers"] == ["draft 1", ODD_TEXT]
    assert by_id[odd]["cancel_requested"] is True and by_id[plain]["cancel_requested"] is False
    assert by_id[plain]["leftovers"] == [] and by_id[plain]["warnings"] == []
    assert list(by_id[plain]) == list(LISTED_FIELDS)


def test_the_json_listing_filters_and_pages_as_the_rows_do(db: Database) -> None:
    user, other = make_user(db, "pager"), make_user(db, "someone else")
    account = make_account(db, user, "main")
    enqueue(db, other, make_account(db, other, "theirs"), 2)
    ids = enqueue(db, user, account, 5)
    _set(db, ids[1], status="failed")

    def both(**kwargs: object) -> tuple[list[str], list[str]]:
        rows = db.read(lambda s: storage.task_list(s, user_id=user, **kwargs))  # type: ignore[arg-type]
        texts = db.read(
            lambda s: storage.task_list_json(s, user_id=user, fields=("id",), **kwargs)  # type: ignore[arg-type]
        )
        assert [json.loads(t)["id"] for _, t in texts] == [i for i, _ in texts]
        return [r["public_id"] for r in rows], [i for i, _ in texts]

    newest_first = ids[::-1]
    assert both(limit=3) == (newest_first[:3], newest_first[:3])
    assert both(before=ids[3], limit=2) == (newest_first[2:4], newest_first[2:4])
    failed = TaskFilter(statuses=["failed"])
    assert both(where=failed) == ([ids[1]], [ids[1]])
    assert both(where=TaskFilter(created_after=T0 + timedelta(days=1))) == ([], [])
