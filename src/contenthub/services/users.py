"""Users and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy.orm import Session

from contenthub import storage
from contenthub.errors import InputError, NotFound
from contenthub.storage.db import Database
from contenthub.storage.models import ApiToken, User

_hasher = PasswordHasher()
TOKEN_PREFIX = "chub_"
MIN_PASSWORD = 8
LOCAL_SITE = "local-site"


@dataclass(frozen=True)
class Principal:
    """Who is calling: every query is scoped to ``user_id`` unless ``is_admin``."""

    user_id: int
    name: str
    is_admin: bool

    @property
    def scope(self) -> int | None:
        return None if self.is_admin else self.user_id


def user_create(session: Session, name: str, password: str, *, admin: bool, now: datetime) -> int:
    name = name.strip()
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise InputError("name", "use 1–64 letters, digits, '-' or '_'")
    if len(password) < MIN_PASSWORD:
        raise InputError("password", f"must be at least {MIN_PASSWORD} characters")
    if session.scalar(sa.select(User.id).where(User.name == name)) is not None:
        raise InputError("name", f"a user named {name!r} exists already")
    user = User(
        name=name,
        role="admin" if admin else "user",
        created_at=now,
        password_hash=_hasher.hash(password),
    )
    session.add(user)
    session.flush()
    return user.id


def principal_of(session: Session, name: str) -> Principal:
    """The user called ``name``, as the principal commands act as."""
    user = storage.user_by_name(session, name)
    return Principal(user.id, user.name, user.role == "admin")


def default_user_ensure(db: Database, name: str, *, site_root: Path, now: datetime) -> Principal:
    """The embedded default: an admin ``name`` with a 'local-site' account publishing into
    ``site_root``. Read-only once both exist; the first use writes them."""

    def ready(session: Session) -> Principal | None:
        try:
            principal = principal_of(session, name)
            storage.account_find(session, LOCAL_SITE, user_id=principal.user_id)
        except NotFound:
            return None
        return principal

    def make(session: Session) -> Principal:
        user_id = storage.user_ensure(session, name, now=now, role="admin")
        try:
            storage.account_find(session, LOCAL_SITE, user_id=user_id)
        except NotFound:
            storage.account_create(
                session,
                user_id=user_id,
                platform="local",
                name=LOCAL_SITE,
                now=now,
                options={"root": str(site_root.resolve())},
            )
        return principal_of(session, name)

    return db.read(ready) or db.write(make)


def user_check_password(session: Session, name: str, password: str) -> Principal | None:
    user = session.scalar(sa.select(User).where(User.name == name))
    if user is None or not user.password_hash:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    return Principal(user.id, user.name, user.role == "admin")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(session: Session, user_id: int, name: str, *, now: datetime) -> tuple[int, str]:
    """A new token; the plaintext is returned once and never stored."""
    if not name.strip() or len(name) > 100:
        raise InputError("name", "give the token a name of 1–100 characters")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user_id,
        name=name.strip(),
        digest=_digest(plaintext),
        prefix=plaintext[:12],
        created_at=now,
    )
    session.add(token)
    session.flush()
    return token.id, plaintext


def token_authenticate(session: Session, plaintext: str, *, now: datetime) -> Principal | None:
    """The token's user, if the token is valid. Read-only but for a ``last_used_at`` touch
    at most once a minute, so reads stay reads."""
    row = session.execute(
        sa.select(
            ApiToken.id, ApiToken.last_used_at, User.id.label("user_id"), User.name, User.role
        )
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.digest == _digest(plaintext), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        session.execute(sa.update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return Principal(row.user_id, row.name, row.role == "admin")


def token_list(session: Session, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
        )
    )


def token_revoke(session: Session, user_id: int, token_id: int, *, now: datetime) -> None:
    done = session.execute(
        sa.update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    if done != 1:
        raise NotFound("token", token_id)
