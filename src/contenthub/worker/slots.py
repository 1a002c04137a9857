"""The publish slots: which tasks this worker holds, which of them are still publishing, and
the coroutine that runs each one."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from contenthub import storage
from contenthub.secrets_box import SecretBox
from contenthub.worker.config import WorkerConfig
from contenthub.worker.context import TaskContext
from contenthub.worker.database import DatabaseThreads
from contenthub.worker.runner import Outcome, log_fields, run_publish

log = logging.getLogger("contenthub.worker")


@dataclass
class Held:
    """A task this worker holds a lease on, until its outcome is recorded."""

    lease: storage.Lease
    context: TaskContext
    runner: asyncio.Task[None]


class Slots:
    def __init__(
        self,
        config: WorkerConfig,
        database: DatabaseThreads,
        *,
        secrets: SecretBox | None,
        clock: Callable[[], datetime],
        on_outcome: Callable[[Outcome], None],
        on_slot_freed: Callable[[], None],
    ) -> None:
        self._config = config
        self._database = database
        self._secrets = secrets
        self._clock = clock
        self._on_outcome = on_outcome
        self._on_slot_freed = on_slot_freed
        self._held: dict[int, Held] = {}
        # Those held tasks whose publish is still under way (what occupies a slot).
        self._executing: set[int] = set()

    def free(self) -> int:
        """A slot frees when its publish ends; recording outcomes overlaps the next claim,
        but no more than one slot's worth of outcomes may wait to be recorded."""
        slots = self._config.slots
        return min(slots - len(self._executing), 2 * slots - len(self._held))

    def leases(self) -> list[storage.Lease]:
        return [held.lease for held in self._held.values()]

    def start(self, claimed: storage.ClaimedTask) -> None:
        ctx = TaskContext(claimed, self._database, clock=self._clock, worker=self._config.name)
        runner = asyncio.create_task(self._publish(claimed, ctx), name=claimed.public_id)
        self._held[claimed.id] = Held(claimed.lease, ctx, runner)
        self._executing.add(claimed.id)

    async def _publish(self, claimed: storage.ClaimedTask, ctx: TaskContext) -> None:
        started = time.monotonic()
        outcome = await run_publish(
            claimed,
            ctx,
            secrets=self._secrets,
            timeout_seconds=self._config.publish_timeout_seconds,
            write=self._database.write,
        )
        self._executing.discard(claimed.id)
        if outcome is None:  # the lease was lost: nothing to record
            self._held.pop(claimed.id, None)
        else:
            log.info(
                "publish ended",
                extra={
                    **log_fields(claimed),
                    "stage": ctx.stage,
                    "outcome": outcome.ending.value,
                    "seconds": round(time.monotonic() - started, 3),
                },
            )
            self._on_outcome(outcome)
        self._on_slot_freed()

    def recorded(self, outcomes: list[Outcome]) -> None:
        """Their outcomes are in the database: the tasks are no longer held."""
        for outcome in outcomes:
            self._held.pop(outcome.lease.task_id, None)

    def apply(self, result: storage.HeartbeatResult) -> None:
        """Stop the publishes whose lease is gone; flag those the user asked to cancel."""
        for task_id in result.lost:
            held = self._held.get(task_id)
            if held:
                if task_id in self._executing:
                    log.warning(
                        "lease lost (the task was rescued): stopping its publish",
                        extra={"task_id": held.runner.get_name()},
                    )
                held.context.lost = True
                held.runner.cancel()
        for task_id in result.cancel_requested:
            held = self._held.get(task_id)
            if held:
                held.context.cancel_flag = True

    def hand_back_all(self, reason: str) -> None:
        """Stop every running publish; each is handed back to the queue (fenced, as ever)."""
        for task_id in self._executing:
            held = self._held[task_id]
            held.context.release_reason = reason
            held.runner.cancel()

    async def drain(self) -> None:
        """Let running publishes finish within the grace period, then hand the rest back."""
        if not self._held:
            return
        pending = [held.runner for held in self._held.values()]
        _, still = await asyncio.wait(pending, timeout=self._config.shutdown_grace_seconds)
        for runner in still:
            runner.cancel()
        if still:
            await asyncio.wait(still)
