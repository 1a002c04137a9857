"""API tokens: named storage operations. Only a token's digest is ever stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contenthub.errors import NotFound
from contenthub.storage.models import ApiToken, User
from contenthub.storage.rows import snapshot
from contenthub.storage.users import UserRow
from contenthub.storage.users import _row as _user_row


@dataclass(frozen=True)
class TokenRow:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class TokenHolder:
    """A live token and the user it speaks for."""

    token_id: int
    last_used_at: datetime | None
    user: UserRow


def _row(token: ApiToken) -> TokenRow:
    return snapshot(TokenRow, token)


def token_insert(
    session: Session, *, user_id: int, name: str, digest: str, prefix: str, now: datetime
) -> TokenRow:
    token = ApiToken(user_id=user_id, name=name, digest=digest, prefix=prefix, created_at=now)
    session.add(token)
    session.flush()
    return _row(token)


def token_by_digest(session: Session, digest: str) -> TokenHolder | None:
    """The unrevoked token with this digest, and its user."""
    found = session.execute(
        sa.select(ApiToken.id, ApiToken.last_used_at, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.digest == digest, ApiToken.revoked_at.is_(None))
    ).first()
    if found is None:
        return None
    token_id, last_used_at, user = found
    return TokenHolder(token_id, last_used_at, _user_row(user))


def token_touch(session: Session, token_id: int, *, now: datetime) -> None:
    session.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def token_list(session: Session, *, user_id: int) -> list[TokenRow]:
    query = sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
    return [_row(t) for t in session.scalars(query)]


def token_revoke(session: Session, token_id: int, *, user_id: int, now: datetime) -> None:
    done = session.execute(
        sa.update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    if done != 1:
        raise NotFound("token", token_id)
