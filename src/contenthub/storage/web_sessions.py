"""Dashboard sessions: named storage operations. Only a session cookie's digest is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import NotFound
from contenthub.storage.models import User, WebSession
from contenthub.storage.rows import snapshot
from contenthub.storage.users import UserRow
from contenthub.storage.users import _row as _user_row


@dataclass(frozen=True)
class WebSessionRow:
    id: int
    user_id: int
    csrf: str
    address: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class LiveSession:
    """A session that is neither revoked nor expired, and its user."""

    session: WebSessionRow
    user: UserRow


def web_session_insert(
    session: Session,
    *,
    user_id: int,
    digest: str,
    csrf: str,
    address: str | None,
    now: datetime,
    expires_at: datetime,
) -> int:
    row = WebSession(
        user_id=user_id,
        digest=digest,
        csrf=csrf,
        address=address,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row.id


def web_session_live(session: Session, digest: str, *, now: datetime) -> LiveSession | None:
    found = session.execute(
        sa.select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.digest == digest,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
    ).first()
    if found is None:
        return None
    row, user = found
    return LiveSession(snapshot(WebSessionRow, row), _user_row(user))


def web_session_list(session: Session, *, user_id: int, now: datetime) -> list[WebSessionRow]:
    """The user's live sessions, newest first."""
    query = (
        sa.select(WebSession)
        .where(
            WebSession.user_id == user_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
        .order_by(WebSession.id.desc())
    )
    return [snapshot(WebSessionRow, s) for s in session.scalars(query)]


def web_session_revoke(
    session: Session, *, user_id: int, now: datetime, session_id: int | None = None
) -> int:
    """Revoke one of the user's sessions (``session_id``) or all of them; how many ended."""
    query = sa.update(WebSession).where(
        WebSession.user_id == user_id, WebSession.revoked_at.is_(None)
    )
    if session_id is not None:
        query = query.where(WebSession.id == session_id)
    done = session.execute(query.values(revoked_at=now)).rowcount
    if session_id is not None and done != 1:
        raise NotFound("session", session_id)
    return int(done)


def web_session_expire(session: Session, session_id: int, *, at: datetime) -> None:
    """Move a session's end (tests, and an administrator ending one at a set time)."""
    session.execute(sa.update(WebSession).where(WebSession.id == session_id).values(expires_at=at))
