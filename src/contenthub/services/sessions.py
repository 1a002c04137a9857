"""Dashboard sign-in: a password checked, attempts limited, a revocable server-side session.

The cookie holds a random token; only its SHA-256 digest is stored (like API tokens). Each
session carries its own CSRF token, which every form and htmx request must send back.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from contenthub import storage
from contenthub.services.users import Principal, user_check_password
from contenthub.storage import Database, WebSessionRow

SESSION_LIFETIME = timedelta(days=7)
# The cookie that carries a session's token (HttpOnly, SameSite=Lax).
COOKIE_NAME = "chub_session"


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    session_id: int
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AttemptLimiter:
    """Failed sign-ins per user name and per address in a sliding window, in this process.

    Each API process keeps its own count: with N processes an attacker gets at most N times
    the allowance, still a handful a minute, which argon2 makes worthless for guessing."""

    def __init__(
        self, *, per_user: int = 5, per_address: int = 20, window_seconds: float = 300.0
    ) -> None:
        self.limits = {"user": per_user, "address": per_address}
        self.window = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def retry_after(self, name: str, address: str) -> float:
        """Seconds to wait before another attempt is heard (0: go ahead)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for kind, value in (("user", name.strip().lower()), ("address", address)):
                failures = self._recent((kind, value), now)
                if len(failures) >= self.limits[kind]:
                    wait = max(wait, self.window - (now - failures[0]))
        return wait

    def failed(self, name: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of names: forget rather than grow
                self._failures.clear()
            for key in (("user", name.strip().lower()), ("address", address)):
                self._recent(key, now).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(("user", name.strip().lower()), None)


def sign_in(
    db: Database, name: str, password: str, *, address: str | None, now: datetime
) -> tuple[SignedIn, str] | None:
    """A new session for the user if the password is right, and the cookie's token. The
    password is checked in a read unit (argon2 takes a while), the session written after."""
    principal = db.read(lambda s: user_check_password(s, name, password))
    if principal is None:
        return None
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session_id = db.write(
        lambda s: storage.web_session_insert(
            s,
            user_id=principal.user_id,
            digest=_digest(token),
            csrf=csrf,
            address=(address or "")[:64] or None,
            now=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return SignedIn(principal, session_id, csrf), token


def session_of(db: Database, token: str, *, now: datetime) -> SignedIn | None:
    live = db.read(lambda s: storage.web_session_live(s, _digest(token), now=now))
    if live is None:
        return None
    return SignedIn(Principal.of(live.user), live.session.id, live.session.csrf)


def sign_out(db: Database, me: SignedIn, *, now: datetime) -> None:
    db.write(
        lambda s: storage.web_session_revoke(
            s, user_id=me.principal.user_id, session_id=me.session_id, now=now
        )
    )


def sessions_list(db: Database, me: Principal, *, now: datetime) -> list[WebSessionRow]:
    return db.read(lambda s: storage.web_session_list(s, user_id=me.user_id, now=now))


def sessions_revoke(
    db: Database, me: Principal, *, now: datetime, session_id: int | None = None
) -> int:
    """End one of ``me``'s sessions, or every one (signing out everywhere)."""
    return db.write(
        lambda s: storage.web_session_revoke(s, user_id=me.user_id, session_id=session_id, now=now)
    )
