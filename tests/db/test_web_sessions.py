"""Dashboard sign-in on every database: the password check, sessions that end when revoked
or expired, and the article search the list page uses."""

from __future__ import annotations

from datetime import timedelta

from contenthub import storage
from contenthub.services import articles, sessions, users
from contenthub.services.sessions import AttemptLimiter
from contenthub.storage.db import Database
from tests.factories import T0

PASSWORD = "correct horse battery"


def make(db: Database, name: str) -> users.Principal:
    db.write(lambda s: users.user_create(s, name, PASSWORD, admin=False, now=T0))
    return db.read(lambda s: users.principal_of(s, name))


def test_the_password_is_checked_and_a_user_without_one_cannot_sign_in(db: Database) -> None:
    ann = make(db, "ann")
    db.write(lambda s: storage.user_ensure(s, "nopass", now=T0))
    check = users.user_check_password
    assert db.read(lambda s: check(s, "ann", PASSWORD)) == ann
    assert db.read(lambda s: check(s, "ann", "wrong password")) is None
    assert db.read(lambda s: check(s, "nobody", PASSWORD)) is None
    assert db.read(lambda s: check(s, "nopass", "")) is None


def test_a_session_lives_until_it_is_revoked_or_expires(db: Database) -> None:
    ann = make(db, "ann")
    signed = sessions.sign_in(db, "ann", PASSWORD, address="127.0.0.1", now=T0)
    assert signed is not None
    me, token = signed
    assert sessions.sign_in(db, "ann", "wrong password", address=None, now=T0) is None
    found = sessions.session_of(db, token, now=T0 + timedelta(hours=1))
    assert found is not None and found.principal == ann and found.csrf == me.csrf
    assert sessions.session_of(db, token + "x", now=T0) is None
    assert sessions.session_of(db, token, now=T0 + sessions.SESSION_LIFETIME) is None
    # Another sign-in, then "sign out everywhere" ends both.
    _, second = sessions.sign_in(db, "ann", PASSWORD, address=None, now=T0) or (None, "")
    assert len(sessions.sessions_list(db, ann, now=T0)) == 2
    sessions.sign_out(db, me, now=T0)
    assert sessions.session_of(db, token, now=T0) is None
    assert sessions.session_of(db, second, now=T0) is not None
    assert sessions.sessions_revoke(db, ann, now=T0) == 1
    assert sessions.session_of(db, second, now=T0) is None


def test_article_search_matches_titles_without_case_and_escapes_wildcards(db: Database) -> None:
    ann = make(db, "ann")
    for title in ("Zebra crossing", "zebra 斑马", "100% done", "Other"):
        db.write(
            lambda s, t=title: articles.article_create(s, ann, title=t, body="b", tags=[], now=T0)
        )

    def search(text: str) -> list[str]:
        found, total = db.read(
            lambda s: articles.article_list(s, scope=ann.user_id, limit=10, offset=0, search=text)
        )
        assert total == len(found)
        return sorted(a.title for a in found)

    assert search("ZEBRA") == ["Zebra crossing", "zebra 斑马"]
    assert search("斑马") == ["zebra 斑马"]
    assert search("%") == ["100% done"]
    assert search("_") == []


def test_failed_sign_ins_are_limited_per_user_and_per_address() -> None:
    limiter = AttemptLimiter(per_user=2, per_address=3, window_seconds=60)
    assert limiter.retry_after("ann", "1.1.1.1") == 0
    limiter.failed("ann", "1.1.1.1")
    limiter.failed("ANN ", "2.2.2.2")
    assert limiter.retry_after("ann", "3.3.3.3") > 0  # the user, from any address
    limiter.failed("bob", "1.1.1.1")
    limiter.failed("cy", "1.1.1.1")
    assert limiter.retry_after("dan", "1.1.1.1") > 0  # the address, for any user
    limiter.succeeded("ann")
    assert limiter.retry_after("ann", "3.3.3.3") == 0
