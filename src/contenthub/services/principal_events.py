"""Reading the event log as a stream, without missing events that commit out of order.

Event ids are taken at insert, but transactions commit in any order: an event with a lower
id can become visible after a higher one was read. The cursor therefore re-reads a short
trailing window of recent ids and skips what it already sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.services.users import Principal
from contenthub.storage import Database

LATE_COMMIT_WINDOW = timedelta(seconds=10)


@dataclass
class EventCursor:
    db: Database
    scope: int | None
    low: int  # every event with an id at or below this was sent (or predates the stream)
    sent: dict[int, datetime] = field(default_factory=dict)

    @classmethod
    def open(cls, db: Database, principal: Principal, after: int | None) -> EventCursor:
        if after is None:
            after = db.read(storage.event_last_id)
        return cls(db, principal.scope, after)

    def poll(self) -> list[dict[str, Any]]:
        rows = self.db.read(
            lambda s: storage.event_list_after(s, user_id=self.scope, after_id=self.low)
        )
        fresh = [r for r in rows if r["id"] not in self.sent]
        now = utcnow()
        for row in fresh:
            self.sent[row["id"]] = row["at"]
        # Ids old enough that no transaction can still be writing below them are settled.
        settled = [i for i, at in self.sent.items() if now - at > LATE_COMMIT_WINDOW]
        if settled:
            self.low = max(self.low, max(settled))
            for i in [i for i in self.sent if i <= self.low]:
                del self.sent[i]
        return [_public(r) for r in fresh]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "task_id": row["public_id"],
        "at": row["at"].isoformat(),
        "kind": row["kind"],
        "reason": row["reason"],
        "from_status": row["from_status"],
        "to_status": row["to_status"],
        "stage": row["stage"],
        "progress": row["progress"],
        "attempt": row["attempt"],
        "message": row["message"],
    }
