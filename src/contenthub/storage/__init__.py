"""Storage: the one home of every statement against the database.

Nothing outside this package (and its migrations, and tests) imports SQLAlchemy or the
models; services, the API, the CLI, the worker and the scheduler call the named operations
exported here, noun first (``task_claim``, ``account_find``, ``pool_entry_release`` …), each
taking the session of a unit of work (``Database.read`` / ``Database.write``) and ``now``
where time matters. The dispatcher (enqueue, claim, leases, control, maintenance) is the
heart of it; ``events.set_status`` is the only writer of a task's status.
"""

from sqlalchemy.orm import Session

from contenthub.storage.accounts import (
    ACCOUNT_STATUSES,
    account_create,
    account_find,
    account_list,
    account_set_status,
)
from contenthub.storage.articles import article_create
from contenthub.storage.claim import ClaimedTask, task_claim
from contenthub.storage.control import ControlResult, task_cancel, task_retry
from contenthub.storage.db import Database
from contenthub.storage.enqueue import (
    NewTask,
    UnknownAccount,
    task_count_created_since,
    task_created_at_nth_since,
    task_enqueue,
    task_from_article,
    task_submissions_lock,
)
from contenthub.storage.events import event_counts_by_reason, event_last_id, event_list_after
from contenthub.storage.idempotency import (
    IdempotencyKeyTaken,
    StoredAnswer,
    idempotent_request_get,
    idempotent_request_insert,
)
from contenthub.storage.jobs import (
    ClaimedRun,
    RunStatus,
    job_claim_due,
    job_delete,
    job_get,
    job_insert,
    job_list,
    job_next_due,
    job_run_any_expired,
    job_run_finish,
    job_run_list,
    job_run_prune,
    job_run_renew,
    job_run_rescue_expired,
    job_run_start_manual,
    job_update,
)
from contenthub.storage.lease import (
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
from contenthub.storage.maintenance import (
    event_prune,
    task_prune_finished,
    task_rescue_expired,
    task_stage_due,
)
from contenthub.storage.platforms import platform_set_limit
from contenthub.storage.pool import (
    PoolStatus,
    pool_entry_cancel,
    pool_entry_counts,
    pool_entry_due_ids,
    pool_entry_get,
    pool_entry_insert,
    pool_entry_list,
    pool_entry_open_task_ids,
    pool_entry_published_accounts,
    pool_entry_release,
    pool_entry_release_tasks,
    pool_entry_reschedule,
    pool_entry_settle,
    pool_entry_settleable_ids,
    pool_entry_take,
)
from contenthub.storage.scope import owned
from contenthub.storage.stats import TaskOutcome, stats_task_outcomes
from contenthub.storage.tasks import (
    task_counts_by_status_and_platform,
    task_events,
    task_get,
    task_ids_of_batch,
    task_list,
    task_publish_durations,
    task_queue_depth,
    task_resolve,
    task_running_per_worker,
    task_status_counts,
)
from contenthub.storage.users import user_by_name, user_ensure

__all__ = [
    "ACCOUNT_STATUSES",
    "ClaimedRun",
    "ClaimedTask",
    "ControlResult",
    "Database",
    "HeartbeatResult",
    "IdempotencyKeyTaken",
    "Lease",
    "NewTask",
    "PoolStatus",
    "Published",
    "RunStatus",
    "Session",
    "StoredAnswer",
    "TaskOutcome",
    "UnknownAccount",
    "account_create",
    "account_find",
    "account_list",
    "account_set_status",
    "article_create",
    "event_counts_by_reason",
    "event_last_id",
    "event_list_after",
    "event_prune",
    "idempotent_request_get",
    "idempotent_request_insert",
    "job_claim_due",
    "job_delete",
    "job_get",
    "job_insert",
    "job_list",
    "job_next_due",
    "job_run_any_expired",
    "job_run_finish",
    "job_run_list",
    "job_run_prune",
    "job_run_renew",
    "job_run_rescue_expired",
    "job_run_start_manual",
    "job_update",
    "owned",
    "platform_set_limit",
    "pool_entry_cancel",
    "pool_entry_counts",
    "pool_entry_due_ids",
    "pool_entry_get",
    "pool_entry_insert",
    "pool_entry_list",
    "pool_entry_open_task_ids",
    "pool_entry_published_accounts",
    "pool_entry_release",
    "pool_entry_release_tasks",
    "pool_entry_reschedule",
    "pool_entry_settle",
    "pool_entry_settleable_ids",
    "pool_entry_take",
    "stats_task_outcomes",
    "task_cancel",
    "task_checkpoint",
    "task_claim",
    "task_complete",
    "task_count_created_since",
    "task_counts_by_status_and_platform",
    "task_created_at_nth_since",
    "task_enqueue",
    "task_events",
    "task_fail",
    "task_finish_cancelled",
    "task_from_article",
    "task_get",
    "task_heartbeat",
    "task_ids_of_batch",
    "task_list",
    "task_poll_cancel",
    "task_progress",
    "task_prune_finished",
    "task_publish_durations",
    "task_queue_depth",
    "task_release",
    "task_rescue_expired",
    "task_resolve",
    "task_retry",
    "task_running_per_worker",
    "task_stage_due",
    "task_status_counts",
    "task_submissions_lock",
    "user_by_name",
    "user_ensure",
]
