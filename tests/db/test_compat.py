"""What the old API's endpoints rely on, on every database: the default account of a
platform, and an article found again by the caller's own id (``external_ref``)."""

from __future__ import annotations

import threading

import pytest

from contenthub import storage
from contenthub.errors import InputError
from contenthub.services import compat, publishing
from contenthub.services.publishing import Draft, Target
from contenthub.services.users import Principal
from contenthub.storage.db import Database
from tests.factories import T0, make_account, make_user


def me(db: Database, name: str) -> Principal:
    return Principal(make_user(db, name), name, is_admin=False)


def default_of(db: Database, who: Principal) -> int:
    return db.read(lambda s: compat.default_account(s, who))


def make_default(db: Database, account_id: int, value: bool = True) -> None:
    db.write(lambda s: storage.account_update(s, account_id, now=T0, is_default=value))


def test_the_default_zhihu_account_is_the_marked_one_or_the_only_one(db: Database) -> None:
    alice, bob = me(db, "alice"), me(db, "bob")
    make_account(db, alice.user_id, "blog", platform="wechat")
    with pytest.raises(InputError, match="no zhihu account"):
        default_of(db, alice)

    first = make_account(db, alice.user_id, "zh-1", platform="zhihu")
    assert default_of(db, alice) == first  # the only one
    second = make_account(db, alice.user_id, "zh-2", platform="zhihu")
    with pytest.raises(InputError, match=r"2 zhihu accounts \(zh-1, zh-2\).*--default"):
        default_of(db, alice)

    make_default(db, second)
    assert default_of(db, alice) == second
    make_default(db, first)  # one default per user and platform: the other stops being it
    assert default_of(db, alice) == first
    flags = {
        a.name: a.is_default
        for a in db.read(lambda s: storage.account_list(s, user_id=alice.user_id))
    }
    assert flags == {"blog": False, "zh-1": True, "zh-2": False}

    # Bob's own default is his; Alice's stays.
    bobs = make_account(db, bob.user_id, "zh-b", platform="zhihu")
    make_default(db, bobs)
    assert (default_of(db, alice), default_of(db, bob)) == (first, bobs)


def publish(db: Database, who: Principal, account: int, draft: Draft) -> int:
    done = publishing.publish(
        db,
        who,
        [Target(draft, [account])],
        priority=5,
        scheduled_at=None,
        per_minute=20,
        now=T0,
        republish=True,
    )
    return int(done.tasks[0]["article_id"])


def test_an_article_is_found_again_by_the_callers_id_and_brought_up_to_date(db: Database) -> None:
    alice, bob = me(db, "alice"), me(db, "bob")
    hers, his = make_account(db, alice.user_id, "a"), make_account(db, bob.user_id, "b")

    first = publish(db, alice, hers, Draft("Title", "Body", [], external_ref="123"))
    again = publish(db, alice, hers, Draft("Title 2", "Body 2", [], external_ref="123"))
    other = publish(db, alice, hers, Draft("Other", "Body", [], external_ref="124"))
    bobs = publish(db, bob, his, Draft("Title", "Body", [], external_ref="123"))

    assert again == first and len({first, other, bobs}) == 3
    article = db.read(lambda s: storage.article_find_by_ref(s, "123", user_id=alice.user_id))
    assert article is not None and article.id == first
    assert (article.title, article.body, article.external_ref) == ("Title 2", "Body 2", "123")
    assert db.read(lambda s: storage.article_get(s, bobs, user_id=bob.user_id)).title == "Title"
    # Without a reference every publish stores its own article, as before.
    assert publish(db, alice, hers, Draft("Title", "Body", [])) not in (first, other)


def test_racing_publishes_of_one_new_reference_store_one_article(db: Database) -> None:
    """Four requests at once with the same new article_id: one article, one task; the
    others are refused as already publishing (the user's row lock orders them)."""
    alice = me(db, "alice")
    account = make_account(db, alice.user_id, "a")
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def send() -> None:
        start.wait()
        try:
            done = publishing.publish(
                db,
                alice,
                [Target(Draft("Title", "Body", [], external_ref="42"), [account])],
                priority=5,
                scheduled_at=None,
                per_minute=20,
                now=T0,
            )
            outcomes.append(f"queued {done.tasks[0]['article_id']}")
        except storage.AlreadyPublishing:
            outcomes.append("refused")

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = db.read(lambda s: storage.article_find_by_ref(s, "42", user_id=alice.user_id))
    assert found is not None
    assert sorted(outcomes) == [f"queued {found.id}", "refused", "refused", "refused"]
    stored = db.read(lambda s: storage.article_list(s, user_id=alice.user_id, limit=10, offset=0))
    assert [a.id for a in stored[0]] == [found.id]
