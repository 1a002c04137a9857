"""A worker process: N publish slots on one asyncio loop.

Separate small pieces: the claim loop (fetches only for free slots), the publish runner (one
coroutine per task), the completer (writes outcomes in batches, retrying until the database
answers), and side loops for heartbeat, cancel polling, maintenance and PostgreSQL wake-ups.
Every database touch is a short unit of work on a thread; none is held across a publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.errors import ErrorClass, LeaseLost, PublishCancelled, PublishError, RateLimited
from contenthub.platforms.base import PublishResult
from contenthub.platforms.registry import publisher_for
from contenthub.scheduler import Scheduler
from contenthub.secrets_box import SecretBox
from contenthub.storage.db import Database
from contenthub.storage.events import NOTIFY_CHANNEL

log = logging.getLogger("contenthub.worker")
T = TypeVar("T")


@dataclass
class WorkerConfig:
    slots: int = 4
    lease_seconds: float = 60.0
    poll_seconds: float = 0.5
    maintenance_seconds: float = 1.0
    # Often enough that a 1-second schedule is served on time by some process.
    scheduler_seconds: float = 0.25
    cancel_poll_seconds: float = 1.0
    shutdown_grace_seconds: float = 30.0
    publish_timeout_seconds: float = 900.0
    name: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError("slots must be at least 1")
        if self.lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")


@dataclass
class _Outcome:
    lease: storage.Lease
    kind: str  # succeeded | failed | cancelled | released
    result: PublishResult | None = None
    error_class: ErrorClass | None = None
    message: str = ""
    retry_after: float | None = None


class _Context:
    """The PublishContext a running publish sees."""

    def __init__(self, worker: Worker, claimed: storage.ClaimedTask, lease: storage.Lease):
        self._worker = worker
        self._lease = lease
        self._checkpoints: dict[str, Any] = dict(claimed.checkpoint)
        self.cancel_flag = False
        self.lost = False
        self.stage = "claimed"

    @property
    def checkpoints(self) -> Mapping[str, Any]:
        return self._checkpoints

    @property
    def cancelled(self) -> bool:
        return self.cancel_flag

    def _check(self) -> None:
        if self.lost:
            raise LeaseLost(f"lease of task {self._lease.task_id} was lost")
        if self.cancel_flag:
            raise PublishCancelled()

    async def progress(self, percent: int, stage: str) -> None:
        self.stage = stage
        self._check()
        ok = await self._worker.db_call(
            lambda s: storage.task_progress(
                s,
                self._lease,
                progress=percent,
                stage=stage,
                now=self._worker.clock(),
                worker=self._worker.config.name,
            )
        )
        if not ok:
            self.lost = True
        self._check()

    async def checkpoint(self, key: str, value: Any) -> None:
        self._checkpoints[key] = value
        snapshot = dict(self._checkpoints)
        ok = await self._worker.db_call(
            lambda s: storage.task_checkpoint(s, self._lease, checkpoint=snapshot)
        )
        if not ok:
            self.lost = True
            self._check()


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
        self.secrets = secrets
        self.clock = clock
        self._executor = ThreadPoolExecutor(
            max_workers=config.slots + 4, thread_name_prefix="contenthub-db"
        )
        # Tasks this worker holds a lease on, until their outcome is recorded …
        self._running: dict[int, tuple[storage.Lease, _Context, asyncio.Task[None]]] = {}
        # … and those of them whose publish is still under way (what occupies a slot).
        self._executing: set[int] = set()
        self._outcomes: list[_Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._stopped_claiming = asyncio.Event()
        self.scheduler = Scheduler(db, worker=config.name, secrets=secrets, clock=clock)
        self.claimed_total = 0
        self.finished_total = 0

    # -- plumbing -------------------------------------------------------------------------

    async def db_call(self, work: Callable[[Session], T], *, read: bool = False) -> T:
        run = self.db.read if read else self.db.write
        return await asyncio.get_running_loop().run_in_executor(self._executor, run, work)

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

    # -- main -----------------------------------------------------------------------------

    async def run(self, *, install_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        log.info("worker started", extra={"worker": self.config.name, "slots": self.config.slots})
        side = [
            asyncio.create_task(self._completer_loop(), name="completer"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._cancel_poll_loop(), name="cancel-poll"),
            asyncio.create_task(self._maintenance_loop(), name="maintenance"),
            asyncio.create_task(self._scheduler_loop(), name="scheduler"),
        ]
        if self.db.dialect == "postgresql":
            side.append(asyncio.create_task(self._listen_loop(), name="listen"))
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            for task in side:
                task.cancel()
            for task in side:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._flush_outcomes(final=True)
            self._executor.shutdown(wait=True)
            log.info("worker stopped", extra={"worker": self.config.name})

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            free = self._free_slots()
            claimed: list[storage.ClaimedTask] = []
            if free > 0:
                try:
                    claimed = await self.db_call(
                        lambda s, n=free: storage.task_claim(
                            s,
                            worker=self.config.name,
                            slots=n,
                            now=self.clock(),
                            lease_seconds=self.config.lease_seconds,
                        )
                    )
                except Exception:
                    log.exception(
                        "claim failed; will try again", extra={"worker": self.config.name}
                    )
                for task in claimed:
                    self._start(task)
            if claimed and len(claimed) == free:
                continue  # there may be more: claim again as soon as a slot frees
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
        self._stopped_claiming.set()

    def _free_slots(self) -> int:
        """A slot frees when its publish ends; recording outcomes overlaps the next claim,
        but no more than one slot's worth of outcomes may wait to be recorded."""
        slots = self.config.slots
        return min(slots - len(self._executing), 2 * slots - len(self._running))

    async def _drain(self) -> None:
        """Let running publishes finish within the grace period, then hand the rest back."""
        if not self._running:
            return
        pending = [entry[2] for entry in self._running.values()]
        _, still = await asyncio.wait(pending, timeout=self.config.shutdown_grace_seconds)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still)

    # -- one publish ----------------------------------------------------------------------

    def _start(self, claimed: storage.ClaimedTask) -> None:
        lease = claimed.lease
        ctx = _Context(self, claimed, lease)
        runner = asyncio.create_task(self._publish(claimed, lease, ctx), name=claimed.public_id)
        self._running[claimed.id] = (lease, ctx, runner)
        self._executing.add(claimed.id)
        self.claimed_total += 1

    async def _publish(
        self, claimed: storage.ClaimedTask, lease: storage.Lease, ctx: _Context
    ) -> None:
        extra = {
            "task_id": claimed.public_id,
            "user_id": claimed.user_id,
            "platform": claimed.platform,
            "attempt": claimed.attempt,
        }
        started = time.monotonic()
        outcome: _Outcome
        try:
            publisher = publisher_for(claimed.platform)
            credentials = self.secrets.open(claimed.account_credentials) if self.secrets else {}
            content = replace(claimed.content, credentials=credentials)
            async with asyncio.timeout(self.config.publish_timeout_seconds):
                result = await publisher.publish(ctx, content)
            outcome = _Outcome(lease, "succeeded", result=result)
        except PublishCancelled:
            outcome = _Outcome(lease, "cancelled")
        except LeaseLost:
            log.warning(
                "lease lost; another attempt owns the task now", extra={**extra, "stage": ctx.stage}
            )
            self._forget(claimed.id)
            return
        except asyncio.CancelledError:
            if ctx.lost:
                self._forget(claimed.id)
                return
            outcome = _Outcome(
                lease, "released", message="worker stopping: handed back to the queue"
            )
        except TimeoutError:
            outcome = _Outcome(
                lease,
                "failed",
                error_class=ErrorClass.TRANSIENT,
                message=f"publish took longer than {self.config.publish_timeout_seconds:.0f} s",
            )
        except RateLimited as error:
            outcome = _Outcome(
                lease,
                "failed",
                error_class=error.error_class,
                message=error.message,
                retry_after=error.retry_after_seconds,
            )
        except PublishError as error:
            outcome = _Outcome(
                lease, "failed", error_class=error.error_class, message=error.message
            )
        except Exception as error:
            error_id = uuid.uuid4().hex[:12]
            log.exception(
                "publish crashed", extra={**extra, "stage": ctx.stage, "error_id": error_id}
            )
            outcome = _Outcome(
                lease,
                "failed",
                error_class=ErrorClass.INTERNAL,
                message=f"internal error {error_id}: {type(error).__name__}",
            )
        log.info(
            "publish ended",
            extra={
                **extra,
                "stage": ctx.stage,
                "outcome": outcome.kind,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        self._outcomes.append(outcome)
        self._outcome_ready.set()
        self._executing.discard(claimed.id)
        self._wake.set()

    def _forget(self, task_id: int) -> None:
        self._running.pop(task_id, None)
        self._executing.discard(task_id)
        self._wake.set()

    # -- completion -----------------------------------------------------------------------

    async def _completer_loop(self) -> None:
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            await self._flush_outcomes()

    async def _flush_outcomes(self, *, final: bool = False) -> None:
        """Write every pending outcome in one transaction; on failure keep them and retry."""
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                await self.db_call(lambda s, b=batch: self._write_outcomes(s, b))
            except asyncio.CancelledError:
                # The write may never have started; keep the batch for the final flush
                # (writing an outcome twice is harmless: the second finds the lease gone).
                self._outcomes = batch + self._outcomes
                raise
            except Exception:
                log.exception("could not record outcomes; retrying", extra={"count": len(batch)})
                self._outcomes = batch + self._outcomes
                await asyncio.sleep(1.0 if not final else 0.5)
                continue
            for outcome in batch:
                self._running.pop(outcome.lease.task_id, None)
                self.finished_total += 1
            self._wake.set()

    def _write_outcomes(self, session: Session, batch: list[_Outcome]) -> None:
        now, me = self.clock(), self.config.name
        published = [
            storage.Published(o.lease, o.result.url, o.result.post_id)
            for o in batch
            if o.kind == "succeeded" and o.result is not None
        ]
        storage.task_complete(session, published, now=now, worker=me)
        for o in batch:
            if o.kind == "succeeded":
                continue
            if o.kind == "failed":
                assert o.error_class is not None
                storage.task_fail(
                    session,
                    o.lease,
                    error_class=o.error_class,
                    message=o.message,
                    now=now,
                    worker=me,
                    retry_after_seconds=o.retry_after,
                )
            elif o.kind == "cancelled":
                storage.task_finish_cancelled(session, o.lease, now=now, worker=me)
            else:
                storage.task_release(session, o.lease, now=now, worker=me, reason=o.message)

    # -- side loops -----------------------------------------------------------------------

    def _leases(self) -> list[storage.Lease]:
        return [entry[0] for entry in self._running.values()]

    def _apply(self, result: storage.HeartbeatResult) -> None:
        for task_id in result.lost:
            entry = self._running.get(task_id)
            if entry:
                entry[1].lost = True
                entry[2].cancel()
        for task_id in result.cancel_requested:
            entry = self._running.get(task_id)
            if entry:
                entry[1].cancel_flag = True

    async def _every(self, seconds: float, step: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds * random.uniform(0.9, 1.1))
            try:
                await step()
            except Exception:
                log.exception("side loop step failed; continuing")

    async def _heartbeat_loop(self) -> None:
        async def beat() -> None:
            leases = self._leases()
            if leases:
                result = await self.db_call(
                    lambda s: storage.task_heartbeat(
                        s, leases, now=self.clock(), lease_seconds=self.config.lease_seconds
                    )
                )
                self._apply(result)

        await self._every(self.config.lease_seconds / 3, beat)

    async def _cancel_poll_loop(self) -> None:
        async def poll() -> None:
            leases = self._leases()
            if leases:
                self._apply(
                    await self.db_call(lambda s: storage.task_poll_cancel(s, leases), read=True)
                )

        await self._every(self.config.cancel_poll_seconds, poll)

    async def _maintenance_loop(self) -> None:
        async def once() -> None:
            rescued = await self.db_call(lambda s: storage.task_rescue_expired(s, now=self.clock()))
            staged = await self.db_call(lambda s: storage.task_stage_due(s, now=self.clock()))
            if rescued:
                log.warning("rescued tasks whose worker was lost", extra={"count": rescued})
            if rescued or staged:
                self._wake.set()

        await self._every(self.config.maintenance_seconds, once)

    async def _scheduler_loop(self) -> None:
        """Recurring jobs, on a thread of their own: a long run never delays the claim loop.

        On stop, a run under way cuts its waiting short and still records its result."""
        loop = asyncio.get_running_loop()
        thread = ThreadPoolExecutor(1, thread_name_prefix="contenthub-scheduler")

        async def once() -> None:
            await loop.run_in_executor(thread, self.scheduler.run_once, self.clock())

        try:
            await self._every(self.config.scheduler_seconds, once)
        finally:
            thread.shutdown(wait=False)

    async def _listen_loop(self) -> None:
        """PostgreSQL LISTEN on one dedicated connection: wake at once on new work."""
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._wake.set()  # anything sent while we were not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "notification listener lost; reconnecting", extra={"error": str(error)[:200]}
                )
                await asyncio.sleep(1.0)
