"""This worker's proof of life: a session lock on a database connection of its own.

The lock (PostgreSQL ``pg_advisory_lock``, MariaDB ``GET_LOCK``) lives exactly as long as
its connection, and the connection as long as the process: when the process dies, however,
the server releases the lock within moments, and any other worker's rescuer
(``worker.maintenance.Rescuer``) hands its running tasks back. On SQLite, one host, the
registry records the process instead (pid, boot and start time) and rescuers look for it.

A lock connection can also die while the process lives (killed by an administrator, a
network blip). The keeper notices within ``lock_check_seconds`` and takes the same lock
again on a new connection; rescuers wait ``rescue_grace_seconds`` of seeing a lock free
before acting, so a blip costs nothing. If the lock cannot be taken back within the grace
less a second, this worker stops claiming and hands back its running publishes, before a
rescuer could give them to someone else; a check that does not come back within that time
counts as lost too (a connection cut silently: the server may drop the lock before we hear).
If a rescuer did act in between (it saw the lock free long enough), every task it took back
has a new lease token: right after the lock is back the heartbeat finds them lost and their
publishes are stopped (the cancel poll would within a second anyway); whatever they still
try to write is refused by the fence.

A worker that hangs (SIGSTOP) keeps its connections and so its lock: it is left to the lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from contenthub import storage
from contenthub.storage import Database
from contenthub.storage.workers import LOCK_KEY_MAX

log = logging.getLogger("contenthub.worker")
HOST = socket.gethostname()
T = TypeVar("T")


def process_start(pid: int) -> str | None:
    """Boot id and start time (clock ticks since boot) of a live process; None when it is
    gone, a zombie, or this is not Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # fields from the 3rd on; the name may hold spaces
    if fields[0] in ("Z", "X"):
        return None
    return f"{boot}:{fields[19]}"


def process_alive(pid: int, started: str | None) -> bool:
    """Whether the process registered as (pid, started) still runs on this host; an unknown
    start (not Linux) counts as alive: the lease decides then."""
    return started is None or process_start(pid) == started


class LifeLock:
    def __init__(
        self,
        db: Database,
        *,
        name: str,
        clock: Callable[[], datetime],
        check_seconds: float,
        grace_seconds: float,
        on_regained: Callable[[], Awaitable[None]],
        on_lost_too_long: Callable[[], None],
    ) -> None:
        self._db = db
        self._name = name
        self._clock = clock
        self._check_seconds = check_seconds
        # Before any rescuer can act: it waits the whole grace after it first saw the lock free.
        self._fence_after = max(grace_seconds / 2, grace_seconds - 1.0)
        self._on_regained = on_regained
        self._on_lost_too_long = on_lost_too_long
        self._key = random.randint(1, LOCK_KEY_MAX)
        self._lock = (
            None
            if db.dialect == "sqlite"
            else storage.WorkerLock(db.engine, self._key, url=db.session_url)
        )
        self._registered = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="contenthub-lifelock")
        self.held = False
        self._lost_since: float | None = None
        self._check_started: float | None = None
        self._fenced = False
        self._checks = 0

    @property
    def may_claim(self) -> bool:
        return self.held and not self._fenced

    async def first_take(self) -> None:
        await self._run(self._check_or_take)

    async def keep(self) -> None:
        """Check the lock every ``check_seconds``; take it back when its connection died."""
        while True:
            try:
                if await self._run(self._check_or_take) == "taken":
                    self._fenced = False
                    log.info("worker lock held", extra={"worker": self._name})
                    await self._on_regained()
            except Exception:
                log.exception("worker lock check failed; continuing")
            await asyncio.sleep(self._check_seconds)

    async def watch(self) -> None:
        """Stop and hand back the publishes when the lock stays lost: a rescuer may act soon."""
        while True:
            await asyncio.sleep(self._check_seconds / 2)
            # Lost, or a check that has not come back: a connection silently cut looks so.
            since = self._lost_since or self._check_started
            too_long = since is not None and time.monotonic() - since >= self._fence_after
            if too_long and not self._fenced:
                self._fenced = True
                log.warning(
                    "worker lock lost and not taken back: handing back running publishes",
                    extra={"worker": self._name},
                )
                self._on_lost_too_long()

    async def close(self) -> None:
        await self._run(self._close)
        self._thread.shutdown(wait=False)

    async def _run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    # -- on the lock's own thread ---------------------------------------------------------

    def _check_or_take(self) -> str:
        """``held`` still, ``taken`` (again) now, or ``lost``."""
        self._checks += 1
        if self.held and (self._lock is None or self._holds()):
            if self._checks % 20 == 0:  # a rescuer may have removed us in a race: be listed
                try:
                    self._register()
                except Exception as error:
                    log.warning("could not check the registry", extra={"error": str(error)[:200]})
            return "held"
        if self.held:
            log.warning("worker lock lost; taking it again", extra={"worker": self._name})
            self.held = False
            self._lost_since = time.monotonic()
        if self._take():
            self.held, self._lost_since = True, None
            return "taken"
        return "lost"

    def _holds(self) -> bool:
        assert self._lock is not None
        self._check_started = time.monotonic()
        try:
            return self._lock.holds()
        finally:
            self._check_started = None

    def _take(self) -> bool:
        if self._lock is not None and not self._lock.acquire():
            if not self._registered:  # another process may hold this key: try another
                self._new_key()
            return False
        try:
            registered = self._register()
        except Exception as error:
            log.warning("could not register the worker", extra={"error": str(error)[:200]})
            if self._lock is not None:
                self._lock.release()
                self._lock = storage.WorkerLock(
                    self._db.engine, self._key, url=self._db.session_url
                )
            return False
        if not registered:  # a dead worker's row still has our key
            self._new_key()
        return registered

    def _register(self) -> bool:
        self._registered = self._db.write(
            lambda s: storage.worker_register(
                s,
                name=self._name,
                lock_key=self._key,
                host=HOST,
                pid=os.getpid(),
                process_start=process_start(os.getpid()),
                now=self._clock(),
            )
        )
        return self._registered

    def _new_key(self) -> None:
        if self._lock is not None:
            self._lock.release()
        self._key = random.randint(1, LOCK_KEY_MAX)
        if self._lock is not None:
            self._lock = storage.WorkerLock(self._db.engine, self._key, url=self._db.session_url)

    def _close(self) -> None:
        """At a clean stop: leave the registry, then let the lock go."""
        try:
            if self._registered:
                self._db.write(lambda s: storage.worker_unregister(s, self._name))
        finally:
            if self._lock is not None:
                self._lock.release()
