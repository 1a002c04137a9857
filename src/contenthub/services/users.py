"""Users, the principal every use case acts as, and API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from contenthub import storage
from contenthub.errors import InputError, NotFound
from contenthub.storage import Session, TokenRow, UserRow
from contenthub.storage.db import Database

_hasher = PasswordHasher()
TOKEN_PREFIX = "chub_"
MIN_PASSWORD = 8
LOCAL_SITE = "local-site"
# A token's last use is recorded at most this often, so that reads stay reads.
TOKEN_TOUCH_SECONDS = 60


@dataclass(frozen=True)
class Principal:
    """Who is calling: every query is scoped to ``user_id`` unless ``is_admin``."""

    user_id: int
    name: str
    is_admin: bool

    @property
    def scope(self) -> int | None:
        return None if self.is_admin else self.user_id

    @classmethod
    def of(cls, user: UserRow) -> Principal:
        return cls(user.id, user.name, user.is_admin)


def user_create(session: Session, name: str, password: str, *, admin: bool, now: datetime) -> int:
    name = name.strip()
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise InputError("name", "use 1–64 letters, digits, '-' or '_'")
    if len(password) < MIN_PASSWORD:
        raise InputError("password", f"must be at least {MIN_PASSWORD} characters")
    return storage.user_insert(
        session,
        name,
        now=now,
        role="admin" if admin else "user",
        password_hash=_hasher.hash(password),
    )


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the name is unknown, so an unknown name costs as much as a known
    one (made on first use: hashing costs time every command would pay at import)."""
    return _hasher.hash("not anyone's password")


def user_check_password(session: Session, name: str, password: str) -> Principal | None:
    """The user if ``password`` is theirs; None for a wrong password, an unknown name or a
    user without a password (each takes one argon2 verification, so timing tells nothing).
    Only reads: call it in a read unit, so no write lock is held while argon2 works."""
    found = storage.user_password_hash(session, name.strip())
    user, stored = found if found else (None, None)
    try:
        _hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None:
        return None
    return Principal.of(user)


def user_list(session: Session, me: Principal) -> list[UserRow]:
    """Every user: for administrators only."""
    if not me.is_admin:
        raise NotFound("page", "users")
    return storage.user_list(session)


def principal_of(session: Session, name: str) -> Principal:
    """The user called ``name``, as the principal commands act as."""
    return Principal.of(storage.user_by_name(session, name))


def default_user_ensure(db: Database, name: str, *, data_dir: Path, now: datetime) -> Principal:
    """The embedded default: an admin ``name`` with a 'local-site' account publishing into its
    own folder, ``<data_dir>/sites/<name>/local-site`` (or under the administrator's
    CONTENTHUB_LOCAL_ROOTS). Read-only once both exist; the first use writes them. An install
    whose 'local-site' still publishes into the old ``<data_dir>/site`` keeps it: the server
    chose that folder, not a user, and the local platform still allows it."""

    def ready(session: Session) -> Principal | None:
        try:
            principal = principal_of(session, name)
            storage.account_find(session, LOCAL_SITE, user_id=principal.user_id)
        except NotFound:
            return None
        return principal

    def make(session: Session) -> Principal:
        # Only on the first use: the accounts service brings the adapters.
        from contenthub.services.accounts import check_options, local_scope

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
                options=check_options("local", {}, local_scope(name, LOCAL_SITE, data_dir)),
            )
        return principal_of(session, name)

    return db.read(ready) or db.write(make)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(
    session: Session, user_id: int, name: str, *, now: datetime
) -> tuple[TokenRow, str]:
    """A new token; the plaintext is returned once and never stored."""
    if not name.strip() or len(name) > 100:
        raise InputError("name", "give the token a name of 1–100 characters")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = storage.token_insert(
        session,
        user_id=user_id,
        name=name.strip(),
        digest=_digest(plaintext),
        prefix=plaintext[:12],
        now=now,
    )
    return token, plaintext


def token_authenticate(session: Session, plaintext: str, *, now: datetime) -> Principal | None:
    """The token's user, if the token is valid. Read-only but for a ``last_used_at`` touch
    at most once a minute, so reads stay reads."""
    holder = storage.token_by_digest(session, _digest(plaintext))
    if holder is None:
        return None
    last = holder.last_used_at
    if last is None or (now - last).total_seconds() > TOKEN_TOUCH_SECONDS:
        storage.token_touch(session, holder.token_id, now=now)
    return Principal.of(holder.user)


def token_list(session: Session, user_id: int) -> list[TokenRow]:
    return storage.token_list(session, user_id=user_id)


def token_revoke(session: Session, user_id: int, token_id: int, *, now: datetime) -> None:
    storage.token_revoke(session, token_id, user_id=user_id, now=now)
