"""A write from an event loop (the API's publish) commits on every database: on SQLite through
its writing thread, elsewhere through the thread pool."""

from __future__ import annotations

import asyncio

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.services import users
from contenthub.storage.db import Database


def test_a_write_from_an_event_loop_commits_on_every_database(db: Database) -> None:
    async def create() -> int:
        return await db.write_async(
            lambda s: users.user_create(
                s, "loop-writer", "a-long-password", admin=False, now=utcnow()
            )
        )

    user_id = asyncio.run(create())
    found = db.read(lambda s: storage.user_by_id(s, user_id))
    assert found is not None and found.name == "loop-writer"
