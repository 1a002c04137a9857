"""On each database: the publish use case checks each account's platform rules before anything
is queued; an article an account already has becomes an update of its post (carried to the
worker's claim); images stored with an article round-trip whole."""

from __future__ import annotations

import pytest

from contenthub import storage
from contenthub.errors import InputError
from contenthub.platforms.content import UPDATE_OF
from contenthub.services import articles
from contenthub.services.pool import pool_add
from contenthub.services.publishing import Target, preview, publish
from contenthub.services.users import Principal
from contenthub.storage.db import Database
from tests.db.test_dispatch import claim, lease_of
from tests.factories import T0, make_account, make_user
from tests.platforms.conftest import png

BODY = "Words enough to make a summary of more than fifty characters for Juejin's brief.\n"


def setup(db: Database) -> tuple[Principal, int, dict[str, int]]:
    user = make_user(db, "writer")
    me = Principal(user, "writer", False)
    accounts = {
        p: make_account(db, user, f"{p}-1", platform=p)
        for p in ("juejin", "wechat", "toutiao", "devto", "wordpress")
    }
    article = db.write(
        lambda s: articles.article_create(s, me, title="Hello", body=BODY, tags=[], now=T0)
    ).id
    return me, article, accounts


def send(db: Database, me: Principal, article: int, *account_ids: int, again: bool = False):
    return publish(
        db,
        me,
        [Target(article, list(account_ids))],
        priority=5,
        scheduled_at=None,
        per_minute=100,
        now=T0,
        republish=again,
    )


def task_count(db: Database) -> int:
    return len(db.read(lambda s: storage.task_list(s, user_id=None, where=storage.TaskFilter())))


def test_a_platform_rule_refuses_before_anything_is_queued(db: Database) -> None:
    me, article, accounts = setup(db)
    with pytest.raises(InputError) as refused:
        send(db, me, article, accounts["wordpress"], accounts["juejin"])
    assert refused.value.field == "account_ids"
    assert "account juejin-1 (juejin)" in refused.value.message
    assert "at least 1 tag" in refused.value.message
    assert task_count(db) == 0  # not even the WordPress task

    with pytest.raises(InputError, match=r"juejin-1 \(juejin\): juejin publishes only"):
        db.write(
            lambda s: pool_add(
                s, owner=me, article_id=article, now=T0, account_ids=[accounts["juejin"]]
            )
        )

    found = {a.platform: a for a in preview(db, me, article, list(accounts.values()))}
    assert found["wechat"].problems == [
        "wechat needs a cover image: give the article a cover (CLI: --cover, API: cover) or an "
        "image in the body"
    ]
    assert not found["wordpress"].problems
    assert any("category: 后端" in note for note in found["juejin"].notes)


def test_a_republish_updates_and_a_new_post_is_asked_for(db: Database) -> None:
    me, article, accounts = setup(db)
    db.write(lambda s: articles.article_update(s, article, scope=None, now=T0, tags=["x"]))
    made = send(db, me, article, accounts["wordpress"], accounts["toutiao"]).tasks
    for task in claim(db, 5):
        done = storage.Published(lease_of(task), url=f"https://x/{task.id}", post_id=f"p{task.id}")
        db.write(lambda s, d=done: storage.task_complete(s, [d], now=T0, worker="w1"))

    [update] = send(db, me, article, accounts["wordpress"]).tasks
    assert update["updates"] == f"p{made[0]['id']}"
    assert update["checkpoint"][UPDATE_OF]["task"] == made[0]["public_id"]
    with pytest.raises(InputError, match="already queued"):  # the update is under way
        send(db, me, article, accounts["wordpress"])
    with pytest.raises(InputError, match="toutiao posts cannot be edited"):
        send(db, me, article, accounts["toutiao"])
    [second] = send(db, me, article, accounts["toutiao"], again=True).tasks
    assert second["updates"] is None

    claimed = {t.public_id: t for t in claim(db, 5)}
    prior = claimed[update["public_id"]].content.update_of
    assert prior is not None and prior.post_id == f"p{made[0]['id']}"
    assert claimed[second["public_id"]].content.update_of is None
    done = storage.Published(
        lease_of(claimed[update["public_id"]]), "u", prior.post_id, updated=True
    )
    db.write(lambda s: storage.task_complete(s, [done], now=T0, worker="w1"))
    assert db.read(lambda s: storage.task_get(s, update["public_id"], user_id=None))["outcome"] == (
        "updated"
    )


def test_attachments_round_trip_whole_and_are_checked(db: Database) -> None:
    me, article, _ = setup(db)
    big = png(4, 4) + b"\0" * (articles.MAX_ATTACHMENT_BYTES - len(png(4, 4)))  # 5 MiB exactly
    files = [articles.AttachmentFile("img/a.png", big), articles.AttachmentFile("b.png", png())]
    listed = db.write(
        lambda s: articles.attachments_store(s, article, files, scope=me.user_id, now=T0)
    )
    assert [(a.name, a.size) for a in listed] == [("b.png", len(png())), ("img/a.png", len(big))]
    data = db.read(lambda s: storage.attachment_data(s, article, ["img/a.png"]))
    assert data == {"img/a.png": ("image/png", big)}
    for name, payload, words in [
        ("c.png", big + b"x", "5 MiB"),
        ("d.txt", b"hello", "not a PNG"),
        ("https://x/e.png", png(), "web address"),
    ]:
        one = [articles.AttachmentFile(name, payload)]
        with pytest.raises(InputError, match=words):
            db.write(lambda s, f=one: articles.attachments_store(s, article, f, scope=None, now=T0))
    assert len(db.read(lambda s: storage.attachment_list(s, article))) == 2
