"""Idempotency-Key answers: the answer a request got, kept to give it again.

A key is unique per user. Two requests racing with one key both try to insert; the loser's
insert fails on the unique key and is reported as :class:`IdempotencyKeyTaken`, so callers
never see the driver's error: they read the winner's answer instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.storage.models import IdempotentRequest

REQUESTS = IdempotentRequest.__table__


class IdempotencyKeyTaken(Exception):
    """Another request with this key stored its answer first; this transaction is void."""


@dataclass(frozen=True)
class StoredAnswer:
    request_digest: str
    status_code: int
    response: dict[str, Any]


def idempotent_request_get(session: Session, *, user_id: int, key: str) -> StoredAnswer | None:
    row = session.execute(
        sa.select(REQUESTS.c.request_digest, REQUESTS.c.status_code, REQUESTS.c.response).where(
            REQUESTS.c.user_id == user_id, REQUESTS.c.key == key
        )
    ).first()
    return None if row is None else StoredAnswer(row[0], row[1], row[2])


def idempotent_request_insert(
    session: Session,
    *,
    user_id: int,
    key: str,
    request_digest: str,
    status_code: int,
    response: dict[str, Any],
    now: datetime,
) -> None:
    try:
        session.execute(
            sa.insert(REQUESTS).values(
                user_id=user_id,
                key=key,
                request_digest=request_digest,
                status_code=status_code,
                response=response,
                created_at=now,
            )
        )
    except sa.exc.IntegrityError:
        raise IdempotencyKeyTaken(key) from None
