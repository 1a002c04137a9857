"""``Worker``: one process's publish slots and side duties on one asyncio loop.

``run`` takes the worker's liveness lock, starts the side duties (completer, heartbeat,
cancel poll, the liveness lock's keeper, the rescuer of dead workers, maintenance, scheduler,
and on PostgreSQL the wake-up listener), listens for work its own process makes ready, runs
the claim loop until asked to stop, lets the running publishes finish within the grace
period, then records every last outcome — unless the database has not answered by
``RECORDING_SECONDS`` after the grace: then the worker gives up on it and stops, leaving the
outcomes it could not record (their tasks still ``running``) to the rescue of dead workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from contenthub.browser import pool as browser_pool
from contenthub.browser.launch import reap_leftovers
from contenthub.clock import utcnow
from contenthub.scheduler import Scheduler
from contenthub.secrets_box import SecretBox
from contenthub.storage import Database
from contenthub.worker.claimer import Claimer
from contenthub.worker.completer import Completer
from contenthub.worker.config import WorkerConfig
from contenthub.worker.database import DatabaseThreads
from contenthub.worker.leases import LeaseKeeper
from contenthub.worker.liveness import LifeLock
from contenthub.worker.loops import every, listen_for_work
from contenthub.worker.maintenance import Maintenance, Rescuer
from contenthub.worker.runner import Outcome
from contenthub.worker.slots import Slots

log = logging.getLogger("contenthub.worker")
# After the grace, how long a stopping worker waits for the database to take its last writes
# (the hand-backs, the outcomes): milliseconds when it answers; a database that has gone
# would otherwise be retried for as long as every write retries, again and again.
RECORDING_SECONDS = 10.0


class Worker:
    def __init__(
        self,
        db: Database,
        config: WorkerConfig,
        *,
        secrets: SecretBox | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._database = DatabaseThreads(db, threads=config.slots + 4)
        self.slots = Slots(
            config,
            self._database,
            secrets=secrets,
            clock=clock,
            on_outcome=self._outcome,
            on_slot_freed=self.wake,
        )
        self.completer = Completer(
            self._database, clock=clock, worker=config.name, on_recorded=self._recorded
        )
        self.leases = LeaseKeeper(
            self._database, self.slots, clock=clock, lease_seconds=config.lease_seconds
        )
        self.life: LifeLock | None = None
        self.rescuer: Rescuer | None = None
        if config.fast_rescue:
            self.life = LifeLock(
                db,
                name=config.name,
                clock=clock,
                check_seconds=config.lock_check_seconds,
                grace_seconds=config.rescue_grace_seconds,
                on_regained=self._lock_regained,
                on_lost_too_long=self._lock_lost_too_long,
            )
            self.rescuer = Rescuer(db, me=config.name, grace_seconds=config.rescue_grace_seconds)
        self.claimer = Claimer(
            config,
            self._database,
            self.slots,
            clock=clock,
            wake=self._wake,
            stopping=self._stopping,
            may_claim=(lambda: True) if self.life is None else (lambda: self.life.may_claim),
        )
        self.maintenance = Maintenance(db)
        self.scheduler = Scheduler(db, worker=config.name, secrets=secrets, clock=clock)
        self._recorded_all = False  # the last flush is done: nothing left to give up on
        self._deadline: threading.Timer | None = None

    def wake(self) -> None:
        self._wake.set()

    def request_stop(self) -> None:
        if not self._stopping.is_set():
            log.info(
                "stopping: no new claims; running publishes may finish",
                extra={"worker": self.config.name},
            )
            self._stopping.set()
            self.scheduler.stopping.set()
            self._wake.set()
            wait = self.config.shutdown_grace_seconds + RECORDING_SECONDS
            self._deadline = threading.Timer(wait, self._give_up_on_database)
            self._deadline.daemon = True
            self._deadline.start()

    def _outcome(self, outcome: Outcome) -> None:
        self.completer.add(outcome)

    async def _lock_regained(self) -> None:
        """Tasks a rescuer took back while the lock was free are found lost and stopped."""
        await self.leases.heartbeat()
        self.wake()

    def _lock_lost_too_long(self) -> None:
        self.slots.hand_back_all("worker lost its liveness lock: handed back to the queue")

    def _recorded(self, outcomes: list[Outcome]) -> None:
        self.slots.recorded(outcomes)
        self.wake()

    async def run(self, *, install_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        log.info("worker started", extra={"worker": self.config.name, "slots": self.config.slots})
        # The browser starts with the first publish that needs one; what a killed predecessor
        # left behind (Chromium, profiles) goes now.
        browser_pool.configure(self.config.browser)
        reap_leftovers(self.config.browser.runtime_root)
        if self.life is not None:
            await self.life.first_take()  # registered before the first claim
        side = [
            asyncio.create_task(coroutine, name=name)
            for name, coroutine in self._side_duties().items()
        ]
        # Work this process made ready (its API's publishes, under `serve`) wakes it at once.
        stop_listening = self.db.on_new_work(lambda: _call_soon(loop, self.wake))
        try:
            await self.claimer.run()
            await self.slots.drain()
        finally:
            stop_listening()
            for task in side:
                task.cancel()
            for task in side:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.completer.flush(final=True)
            self._recorded_all = not self.completer.unrecorded
            await browser_pool.close_shared()
            if self.life is not None:
                with contextlib.suppress(Exception):
                    await self.life.close()
            self._database.shutdown()
            if self._deadline is not None:
                self._deadline.cancel()
            log.info("worker stopped", extra={"worker": self.config.name})

    def _give_up_on_database(self) -> None:
        """The stop's deadline (on a timer's thread: the loop may be waiting on the database
        threads): stop retrying the database, so a worker whose database has gone ends."""
        if self._recorded_all:
            return
        log.error(
            "stopping: the database has not answered; giving up on it. What this worker "
            "could not record is left to the rescue of dead workers",
            extra={"worker": self.config.name},
        )
        self.db.stop_retrying()

    def _side_duties(self) -> dict[str, Coroutine[Any, Any, None]]:
        config = self.config
        duties = {
            "completer": self.completer.run(),
            "heartbeat": every(config.lease_seconds / 3, self.leases.heartbeat),
            "cancel-poll": every(config.cancel_poll_seconds, self.leases.poll_cancel),
            "maintenance": every(config.maintenance_seconds, self._maintain),
            "scheduler": self._scheduler_loop(),
        }
        if self.life is not None and self.rescuer is not None:
            duties["life-lock"] = self.life.keep()
            duties["life-watch"] = self.life.watch()
            duties["rescue"] = every(config.rescue_check_seconds, self._rescue)
        if self.db.dialect == "postgresql":
            duties["listen"] = listen_for_work(self.db, self.wake)
        return duties

    async def _maintain(self) -> None:
        counts = await self._database.run(self.maintenance.run_once, self.clock())
        if counts.new_work:
            self.wake()

    async def _rescue(self) -> None:
        assert self.rescuer is not None
        if await self._database.run(self.rescuer.run_once, self.clock()):
            self.wake()

    async def _scheduler_loop(self) -> None:
        """Recurring jobs, on a thread of their own: a long run never delays the claim loop.

        On stop, a run under way cuts its waiting short and still records its result."""
        loop = asyncio.get_running_loop()
        thread = ThreadPoolExecutor(1, thread_name_prefix="contenthub-scheduler")

        async def once() -> None:
            await loop.run_in_executor(thread, self.scheduler.run_once, self.clock())

        try:
            await every(self.config.scheduler_seconds, once)
        finally:
            thread.shutdown(wait=False)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """``callback`` on ``loop`` from any thread; nothing once the loop has closed."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)
