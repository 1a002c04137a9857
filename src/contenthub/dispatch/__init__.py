"""The dispatcher: the only code that writes a task's status."""

from contenthub.dispatch.claim import ClaimedTask, task_claim
from contenthub.dispatch.control import ControlResult, task_cancel, task_retry
from contenthub.dispatch.enqueue import NewTask, task_enqueue
from contenthub.dispatch.lease import (
    HeartbeatResult,
    Lease,
    Published,
    task_checkpoint,
    task_complete,
    task_fail,
    task_finish_cancelled,
    task_heartbeat,
    task_poll_cancel,
    task_progress,
    task_release,
)
from contenthub.dispatch.maintenance import (
    event_prune,
    task_prune_finished,
    task_rescue_expired,
    task_stage_due,
)
from contenthub.dispatch.queries import task_events, task_get, task_list, task_status_counts

__all__ = [
    "ClaimedTask",
    "ControlResult",
    "HeartbeatResult",
    "Lease",
    "NewTask",
    "Published",
    "event_prune",
    "task_cancel",
    "task_checkpoint",
    "task_claim",
    "task_complete",
    "task_enqueue",
    "task_events",
    "task_fail",
    "task_finish_cancelled",
    "task_get",
    "task_heartbeat",
    "task_list",
    "task_poll_cancel",
    "task_progress",
    "task_prune_finished",
    "task_release",
    "task_rescue_expired",
    "task_retry",
    "task_stage_due",
    "task_status_counts",
]
