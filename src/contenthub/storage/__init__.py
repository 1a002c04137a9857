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
    AccountRow,
    account_active_task_count,
    account_create,
    account_delete,
    account_find,
    account_list,
    account_set_status,
    account_update,
)
from contenthub.storage.articles import (
    ArticleRow,
    article_create,
    article_delete,
    article_get,
    article_list,
    article_update,
)
from contenthub.storage.claim import ClaimedTask, task_claim
from contenthub.storage.control import ControlResult, task_cancel, task_retry
from contenthub.storage.db import Database
from contenthub.storage.enqueue import NewTask, task_enqueue, task_from_article
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
from contenthub.storage.scope import owned
from contenthub.storage.tasks import (
    task_events,
    task_get,
    task_list,
    task_queue_depth,
    task_status_counts,
)
from contenthub.storage.tokens import (
    TokenHolder,
    TokenRow,
    token_by_digest,
    token_insert,
    token_list,
    token_revoke,
    token_touch,
)
from contenthub.storage.users import UserRow, user_by_name, user_ensure, user_insert

__all__ = [
    "ACCOUNT_STATUSES",
    "AccountRow",
    "ArticleRow",
    "ClaimedTask",
    "ControlResult",
    "Database",
    "HeartbeatResult",
    "Lease",
    "NewTask",
    "Published",
    "Session",
    "TokenHolder",
    "TokenRow",
    "UserRow",
    "account_active_task_count",
    "account_create",
    "account_delete",
    "account_find",
    "account_list",
    "account_set_status",
    "account_update",
    "article_create",
    "article_delete",
    "article_get",
    "article_list",
    "article_update",
    "event_prune",
    "owned",
    "platform_set_limit",
    "task_cancel",
    "task_checkpoint",
    "task_claim",
    "task_complete",
    "task_enqueue",
    "task_events",
    "task_fail",
    "task_finish_cancelled",
    "task_from_article",
    "task_get",
    "task_heartbeat",
    "task_list",
    "task_poll_cancel",
    "task_progress",
    "task_prune_finished",
    "task_queue_depth",
    "task_release",
    "task_rescue_expired",
    "task_retry",
    "task_stage_due",
    "task_status_counts",
    "token_by_digest",
    "token_insert",
    "token_list",
    "token_revoke",
    "token_touch",
    "user_by_name",
    "user_ensure",
    "user_insert",
]
