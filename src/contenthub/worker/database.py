"""Units of work on a pool of threads: the event loop never waits on the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from contenthub.storage import Database, Session

T = TypeVar("T")


class DatabaseThreads:
    def __init__(self, db: Database, threads: int) -> None:
        self.db = db
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="contenthub-db")

    async def write(self, work: Callable[[Session], T]) -> T:
        return await self.run(self.db.write, work)

    async def read(self, work: Callable[[Session], T]) -> T:
        return await self.run(self.db.read, work)

    async def run(self, call: Callable[..., T], *args: object) -> T:
        """Any blocking call (a duty's ``run_once``, say) on one of the threads."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
