"""What a running publish sees (the adapters' ``PublishContext``): progress, durable
checkpoints and cancellation, every write fenced by the task's lease."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from contenthub import storage
from contenthub.errors import LeaseLost, PublishCancelled
from contenthub.platforms.content import SessionSaver
from contenthub.secrets_box import SecretBox
from contenthub.services import accounts
from contenthub.worker.database import DatabaseThreads

log = logging.getLogger("contenthub.worker.publish")


class TaskContext:
    def __init__(
        self,
        claimed: storage.ClaimedTask,
        database: DatabaseThreads,
        *,
        clock: Callable[[], datetime],
        worker: str,
    ) -> None:
        self._lease = claimed.lease
        self._database = database
        self._clock = clock
        self._worker = worker
        self._checkpoints: dict[str, Any] = dict(claimed.checkpoint)
        # Set from outside: by the cancel poll, and when a heartbeat finds the lease gone.
        self.cancel_flag = False
        self.lost = False
        # Why the publish was stopped to be handed back, when not for a shutdown.
        self.release_reason: str | None = None
        self.stage = "claimed"
        self._task = {
            "task_id": claimed.public_id,
            "platform": claimed.platform,
            "account_id": claimed.account_id,
            "attempt": claimed.attempt,
        }
        self._started = self._stage_started = time.monotonic()

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
        self._log_stage(percent, stage)
        self.stage = stage
        self._check()
        ok = await self._database.write(
            lambda s: storage.task_progress(
                s,
                self._lease,
                progress=percent,
                stage=stage,
                now=self._clock(),
                worker=self._worker,
            )
        )
        if not ok:
            self.lost = True
        self._check()

    def _log_stage(self, percent: int, stage: str) -> None:
        """DEBUG: each stage as it starts, with the time the previous one took (the old
        system's ``[发布流程-Worker]`` lines)."""
        now = time.monotonic()
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                f"publish stage {stage} ({percent}%)",
                extra={
                    **self._task,
                    "stage": stage,
                    "progress": percent,
                    "previous_stage": self.stage,
                    "previous_stage_seconds": round(now - self._stage_started, 3),
                    "elapsed_seconds": round(now - self._started, 3),
                },
            )
        self._stage_started = now

    def session_saver(self, account_id: int, box: SecretBox) -> SessionSaver:
        """What the adapter calls with the session the platform refreshed (cookies it set):
        stored, sealed, on the account, so the next publish starts from it."""

        async def save(storage_state: dict[str, Any]) -> None:
            await self._database.write(
                lambda s: accounts.session_refresh(
                    s, account_id, storage_state, box=box, now=self._clock()
                )
            )

        return save

    async def checkpoint(self, key: str, value: Any) -> None:
        self._checkpoints[key] = value
        snapshot = dict(self._checkpoints)
        ok = await self._database.write(
            lambda s: storage.task_checkpoint(s, self._lease, checkpoint=snapshot)
        )
        if not ok:
            self.lost = True
            self._check()
