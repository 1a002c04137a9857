"""Accounts, users, tokens and articles through their services, on every database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from contenthub import storage
from contenthub.errors import InputError, NotFound
from contenthub.platforms import outbound
from contenthub.sandbox.demo import demo_accounts
from contenthub.secrets_box import SecretBox
from contenthub.services import accounts, articles, users
from contenthub.services.users import Principal
from contenthub.storage.db import Database
from tests.factories import T0, enqueue, make_account, make_user

SANDBOX = "http://127.0.0.1:8900"


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox.from_env(tmp_path)


def principal(db: Database, name: str) -> Principal:
    return db.read(lambda s: users.principal_of(s, name))


def test_account_update_changes_only_what_is_given_and_keeps_names_unique(
    db: Database, box: SecretBox
) -> None:
    ann = make_user(db, "ann")
    make_account(db, ann, "taken")
    account = make_account(db, ann, "site", options={"a": "1"}, daily_cap=5)

    def update(**changes: object) -> storage.AccountRow:
        return db.write(
            lambda s: accounts.account_update(
                s, account, scope=ann, now=T0 + timedelta(hours=1), box=box, **changes
            )
        )

    changed = update(name=" renamed ", min_interval_seconds=2.5, credentials={"k": "v"})
    assert (changed.name, changed.min_interval_seconds) == ("renamed", 2.5)
    assert changed.options == {"a": "1"} and changed.daily_cap == 5
    assert box.open(changed.credentials) == {"k": "v"}
    assert changed.updated_at == T0 + timedelta(hours=1)
    assert update(clear_daily_cap=True).daily_cap is None
    with pytest.raises(InputError, match="exists already"):
        update(name="taken")
    with pytest.raises(InputError, match="must not be negative"):
        update(min_interval_seconds=-1)
    # Someone else's account reads as missing.
    bob = make_user(db, "bob")
    with pytest.raises(NotFound):
        db.write(lambda s: accounts.account_update(s, account, scope=bob, now=T0, box=box))


def test_an_account_in_use_cannot_be_deleted(db: Database) -> None:
    ann = make_user(db, "ann")
    account = make_account(db, ann, "site")
    [task] = enqueue(db, ann, account, due_at=T0 + timedelta(days=1))
    with pytest.raises(InputError, match="1 publish task"):
        db.write(lambda s: accounts.account_delete(s, account, scope=ann))
    db.write(lambda s: storage.task_cancel(s, task, user_id=ann, now=T0))
    db.write(lambda s: accounts.account_delete(s, account, scope=ann))
    assert db.read(lambda s: accounts.account_list(s, scope=ann)) == []


def test_demo_binding_points_existing_accounts_at_the_sandbox_again(
    db: Database, box: SecretBox
) -> None:
    make_user(db, "local")
    me = principal(db, "local")
    # As `serve --demo` does: the sandbox is allowed as an outbound host before binding.
    with outbound.allowing("127.0.0.1:8900", "127.0.0.1:9999"):
        names = accounts.bind_demo_accounts(db, me, SANDBOX, box, now=T0)
        assert names == [spec["name"] for spec in demo_accounts(SANDBOX)]
        first = db.read(lambda s: accounts.account_find(s, names[0], me))
        db.write(lambda s: storage.account_set_status(s, first.id, "needs_login", now=T0))

        again = accounts.bind_demo_accounts(db, me, "http://127.0.0.1:9999", box, now=T0)
        assert again == names
        rebound = db.read(lambda s: accounts.account_find(s, names[0], me))
        assert rebound.id == first.id and rebound.status == "active"
        assert "9999" in str(rebound.options)
        assert len(db.read(lambda s: accounts.account_list(s, scope=me.user_id))) == len(names)


def test_users_are_made_one_way_and_tokens_authenticate_until_revoked(db: Database) -> None:
    ann = db.write(lambda s: users.user_create(s, "ann", "long enough pw", admin=False, now=T0))
    with pytest.raises(InputError, match="exists already"):
        db.write(lambda s: users.user_create(s, "ann", "long enough pw", admin=False, now=T0))
    assert db.write(lambda s: storage.user_ensure(s, "ann", now=T0)) == ann

    token, plaintext = db.write(lambda s: users.token_create(s, ann, "ci", now=T0))
    assert token.name == "ci" and plaintext.startswith(token.prefix)
    later = T0 + timedelta(minutes=5)
    who = db.write(lambda s: users.token_authenticate(s, plaintext, now=later))
    assert who == Principal(ann, "ann", False)
    [listed] = db.read(lambda s: users.token_list(s, ann))
    assert listed.last_used_at == later

    bob = make_user(db, "bob")
    with pytest.raises(NotFound):  # only the owner revokes a token
        db.write(lambda s: users.token_revoke(s, bob, token.id, now=later))
    db.write(lambda s: users.token_revoke(s, ann, token.id, now=later))
    assert db.read(lambda s: users.token_authenticate(s, plaintext, now=later)) is None


def test_article_update_and_delete_leave_tasks_their_snapshot(db: Database) -> None:
    ann = make_user(db, "ann")
    me = principal(db, "ann")
    account = make_account(db, ann, "site")
    article = db.write(
        lambda s: articles.article_create(s, me, title="Old", body="old body", tags=["a"], now=T0)
    )
    [task] = db.write(
        lambda s: storage.task_enqueue(
            s, [storage.task_from_article(article, account_id=account)], now=T0
        )
    )
    edited = db.write(
        lambda s: articles.article_update(
            s, article.id, scope=ann, now=T0, title=" New ", tags=[" b "], cover="http://x/c.png"
        )
    )
    assert (edited.title, edited.body, edited.tags, edited.cover) == (
        "New",
        "old body",
        ["b"],
        "http://x/c.png",
    )
    cleared = db.write(
        lambda s: articles.article_update(s, article.id, scope=ann, now=T0, cover="")
    )
    assert cleared.cover is None
    with pytest.raises(InputError, match="title"):
        db.write(lambda s: articles.article_update(s, article.id, scope=ann, now=T0, title=" "))

    db.write(lambda s: articles.article_delete(s, article.id, scope=ann))
    with pytest.raises(NotFound):
        db.read(lambda s: articles.article_get(s, article.id, scope=ann))
    kept = db.read(lambda s: storage.task_get(s, task, user_id=ann))
    assert kept["title"] == "Old" and kept["article_id"] is None
