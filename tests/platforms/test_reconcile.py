"""Every outcome true: a task whose post went live while no attempt saw it ends ``succeeded``
with the post's URL, never ``failed``. Each test drives every adapter at once through a real
``contenthub worker`` against the sandbox (and a local site), on each database."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from harness import start_worker, wait_until, worker_env

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.sandbox.server import SandboxServer
from contenthub.secrets_box import SecretBox
from contenthub.storage.db import Database
from tests.factories import make_account, make_user
from tests.platforms.conftest import new_account, png, posts_of

pytestmark = pytest.mark.chaos
SECRET_KEY = Fernet.generate_key()
SANDBOXED = ["zhihu", "juejin", "csdn", "wechat", "wordpress", "devto"]
FINAL = ("succeeded", "failed", "cancelled")
TITLE = "对账 Reconcile test"
BODY = (
    "# Reconcile\n\nA body long enough for the platforms that want a summary of more than "
    "fifty characters before they take an article.\n"
)


@dataclass
class Target:
    """One task to one platform, and where to look for its post."""

    platform: str
    public_id: str
    sandbox_account: dict | None = None  # None: the local site
    site: Path | None = None

    def live_posts(self, sandbox: SandboxServer) -> list[dict]:
        if self.sandbox_account is None:
            assert self.site is not None
            posts = self.site / "posts"
            return [{"url": p.as_uri()} for p in posts.glob("*.html")] if posts.exists() else []
        return [
            p
            for p in posts_of(sandbox, self.platform, self.sandbox_account)
            if p["status"] == "published"
        ]


def task(db: Database, public_id: str) -> dict:
    return db.read(lambda s: storage.task_get(s, public_id, user_id=None))


def bind(db: Database, user: int, described: dict, **options: object) -> int:
    """The sandbox account as a contenthub account, its credentials sealed as in production."""
    return make_account(
        db,
        user,
        described["name"],
        platform=described["platform"],
        options={**described["options"], **options},
        credentials=SecretBox(SECRET_KEY).seal(described["credentials"]),
    )


def enqueue_one(
    db: Database, user: int, account: int, *, cover: str | None = None, max_attempts: int = 1
) -> str:
    new = storage.NewTask(
        user_id=user,
        account_id=account,
        title=TITLE,
        body=BODY,
        tags=["Python"],
        cover=cover,
        max_attempts=max_attempts,  # by default the first attempt is the last
    )
    [public_id] = db.write(lambda s: storage.task_enqueue(s, [new], now=utcnow()))
    return public_id


def targets(db: Database, sandbox: SandboxServer, site: Path, **options: object) -> list[Target]:
    """A task per platform, each through a sandbox account of its own with a fault switched
    on that commits the publish and never answers (the local site: see the callers)."""
    user = make_user(db, "ann")
    cover = sandbox.client.put_web_file("reconcile-cover.png", png(4, 4), "image/png")
    made = []
    for platform in SANDBOXED:
        described = new_account(sandbox, platform)
        sandbox.client.add_fault(
            platform, "crash_after_commit", account=described["name"], on="publish", times=1
        )
        account = bind(db, user, described, **options)
        public_id = enqueue_one(db, user, account, cover=cover if platform == "wechat" else None)
        made.append(Target(platform, public_id, sandbox_account=described))
    local = make_account(db, user, "site", platform="local", options={"root": str(site)})
    made.append(Target("local", enqueue_one(db, user, local), site=site))
    return made


def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return worker_env(
        database_url,
        tmp_path,
        CONTENTHUB_SECRET_KEY=SECRET_KEY.decode(),
        CONTENTHUB_LEASE_SECONDS="2",
    )


def all_final(db: Database, made: list[Target]) -> list[dict] | None:
    rows = [task(db, t.public_id) for t in made]
    return rows if all(r["status"] in FINAL for r in rows) else None


def assert_one_post_each(db: Database, sandbox: SandboxServer, made: list[Target]) -> None:
    outcomes = {t.platform: task(db, t.public_id) for t in made}
    assert {p: o["status"] for p, o in outcomes.items()} == {t.platform: "succeeded" for t in made}
    for target in made:
        [post] = target.live_posts(sandbox)
        final = outcomes[target.platform]
        assert final["attempt"] >= 1 and final["result_url"], target.platform
        if target.platform == "wordpress":  # the twin keeps no URL; the post's link is ?p=id
            assert final["result_url"].endswith(f"?p={post['id']}")
        elif target.sandbox_account is not None:
            assert final["result_url"] == post["url"], target.platform


def test_attempts_used_up_with_the_post_live_end_succeeded(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    """The publish commits and its answer never comes; the client gives up (2 s) on the only
    attempt. Asked before failing, each platform shows the post: succeeded, one post."""
    site = tmp_path / "site"
    (site / "index.html").mkdir(parents=True)  # the local site fails right after going live
    made = targets(db, sandbox, site, timeout_seconds=2)
    # And one whose publish never went through (a 503): failed, saying what was checked.
    refused = new_account(sandbox, "devto")
    sandbox.client.add_fault("devto", "server_error", account=refused["name"], on="publish")
    user = task(db, made[0].public_id)["user_id"]
    refused_id = enqueue_one(db, user, bind(db, user, refused))
    start_worker(processes, env(database_url, tmp_path), slots=9, log=tmp_path / "w.log")

    wait_until(lambda: all_final(db, made), timeout=60, what="every task to end")
    assert_one_post_each(db, sandbox, made)
    for target in made:
        assert task(db, target.public_id)["attempt"] == 1
    failed = wait_until(
        lambda: (t := task(db, refused_id))["status"] in FINAL and t, timeout=30, what="the 503"
    )
    assert (
        failed["status"] == "failed" and posts_of(sandbox, "devto", refused)[0]["status"] == "draft"
    )
    assert "the platform may have published it; checked at " in failed["error_message"]
    assert failed["error_message"].endswith(", not found")


def test_a_worker_lost_on_its_last_attempt_after_publishing_ends_succeeded(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    """Every publish has gone through and its worker is SIGKILLed on the only attempt: the
    rescuer queues each task once more for a final check, which finds the post."""
    site = tmp_path / "site"
    site.mkdir()
    os.mkfifo(site / ".index.lock")  # the local site hangs right after going live
    made = targets(db, sandbox, site)
    settings = env(database_url, tmp_path)
    doomed = start_worker(processes, settings, slots=8, log=tmp_path / "doomed.log")
    wait_until(
        lambda: all(t.live_posts(sandbox) for t in made),
        timeout=60,
        what="every post to go live with its answer lost",
    )
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    start_worker(processes, settings, slots=8, log=tmp_path / "rescuer.log")
    wait_until(lambda: all_final(db, made), timeout=60, what="every rescued task to end")
    assert_one_post_each(db, sandbox, made)
    for target in made:
        final = task(db, target.public_id)
        assert final["attempt"] == 2 and final["checkpoint"].get("final_check")
        reasons = [e["reason"] for e in events(db, final["id"])]
        assert "final_check" in reasons and reasons[-1] == "published"


def events(db: Database, task_id: int) -> list[dict]:
    return db.read(lambda s: storage.task_events(s, task_id))
