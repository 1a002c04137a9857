"""Every outcome true: a task whose post went live while no attempt saw it ends ``succeeded``
with the post's URL, never ``failed``; a draft created by a worker SIGKILLed before it could
checkpoint it is reused, not orphaned. Each test drives every adapter at once through a real
``contenthub worker`` against the sandbox (and a local site), on each database."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from harness import CONTENTHUB, start_worker, wait_until, worker_env

from contenthub import storage
from contenthub.api.routers.tasks import task_out
from contenthub.clock import utcnow
from contenthub.platforms.base import task_marker
from contenthub.sandbox.server import SandboxServer
from contenthub.secrets_box import SecretBox
from contenthub.storage.db import Database
from tests.factories import make_account, make_user
from tests.platforms.conftest import new_account, png, posts_of

pytestmark = pytest.mark.chaos
SECRET_KEY = Fernet.generate_key()
SANDBOXED = ["zhihu", "juejin", "csdn", "wechat", "wordpress", "devto", "yuque"]
WITH_DRAFTS = [p for p in SANDBOXED if p != "yuque"]  # a Yuque document is live once created
FINAL = ("succeeded", "failed", "cancelled")
TITLE = "对账 Reconcile test"
HANG = 300  # a client timeout that outlasts the wait for the kill, however loaded the machine
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
    cover: str | None = None

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
    user = make_user(db, "ann", max_running=20)  # every task may hang at once
    cover = sandbox.client.put_web_file("reconcile-cover.png", png(4, 4), "image/png")
    made = []
    for platform in SANDBOXED:
        described = new_account(sandbox, platform)
        # Yuque's last write is the table-of-contents append: a document outside it is not
        # published yet (the resumed publish appends it).
        last = "toc" if platform == "yuque" else "publish"
        sandbox.client.add_fault(
            platform, "crash_after_commit", account=described["name"], on=last, times=1
        )
        account = bind(db, user, described, **options)
        mine = cover if platform == "wechat" else None
        public_id = enqueue_one(db, user, account, cover=mine)
        made.append(Target(platform, public_id, sandbox_account=described, cover=mine))
    local = make_account(db, user, "site", platform="local", options={"root": str(site)})
    made.append(Target("local", enqueue_one(db, user, local), site=site))
    return made


def env(database_url: str, tmp_path: Path, *, lease_seconds: float = 30) -> dict[str, str]:
    """A worker's settings. Leases are long unless a test waits for one to run out: on this
    loaded 2-core machine a short lease can expire under a live worker."""
    return worker_env(
        database_url,
        tmp_path,
        CONTENTHUB_SECRET_KEY=SECRET_KEY.decode(),
        CONTENTHUB_LEASE_SECONDS=str(lease_seconds),
    )


def all_final(db: Database, made: list[Target]) -> list[dict] | None:
    rows = [task(db, t.public_id) for t in made]
    return rows if all(r["status"] in FINAL for r in rows) else None


def assert_one_post_each(db: Database, sandbox: SandboxServer, made: list[Target]) -> None:
    outcomes = {t.platform: task(db, t.public_id) for t in made}
    failed = {p: o["error_message"] for p, o in outcomes.items() if o["status"] != "succeeded"}
    assert not failed
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


def test_a_sigkilled_worker_leaves_no_false_failure_and_no_orphan_draft(
    db: Database, database_url: str, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    """One worker holds, for every platform, a task on its only attempt whose publish went
    through, and a task whose draft was created but not yet checkpointed; it is SIGKILLed.
    The rescuer queues the first kind once more for a final check, which finds the post; the
    second kind's next attempt finds its draft and reuses it. A dev.to task that also finds a
    double of its draft (dev.to cannot delete) shows it as a leftover."""
    site = tmp_path / "site"
    site.mkdir()
    os.mkfifo(site / ".index.lock")  # the local site hangs right after going live
    made = targets(db, sandbox, site, timeout_seconds=HANG)
    user = task(db, made[0].public_id)["user_id"]
    drafted = []  # (platform, sandbox account, task id): each hangs right after its draft
    for platform in [*WITH_DRAFTS, "devto"]:
        described = new_account(sandbox, platform)
        sandbox.client.add_fault(
            platform, "crash_after_commit", account=described["name"], on="draft", times=1
        )
        cover = made[SANDBOXED.index("wechat")].cover if platform == "wechat" else None
        account = bind(db, user, described, timeout_seconds=HANG)
        public_id = enqueue_one(db, user, account, cover=cover, max_attempts=3)
        drafted.append((platform, described, public_id))
    *drafted, (_, doubled, doubled_id) = drafted
    # The doomed worker's leases run out soon after the kill; the rescuer's own are long.
    doomed = start_worker(
        processes,
        env(database_url, tmp_path, lease_seconds=4),
        slots=16,
        log=tmp_path / "doomed.log",
    )
    wait_until(
        lambda: (
            all(t.live_posts(sandbox) for t in made)
            and all(
                sandbox.client.draft_count(p, a["name"]) == 1
                for p, a, _ in [*drafted, ("devto", doubled, "")]
            )
        ),
        timeout=60,
        what="every post to go live and every draft to be created, their answers lost",
    )
    for _, _, public_id in drafted:
        assert "draft_id" not in task(db, public_id)["checkpoint"]
    create_marked_draft(doubled, "devto", TITLE, task_marker(doubled_id))
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    settings = env(database_url, tmp_path)
    start_worker(processes, settings, slots=16, log=tmp_path / "rescuer.log")
    everything = [t.public_id for t in made] + [i for _, _, i in drafted] + [doubled_id]
    wait_until(
        lambda: all(task(db, i)["status"] in FINAL for i in everything),
        timeout=90,
        what="every rescued task to end",
    )
    assert_one_post_each(db, sandbox, made)
    for target in made:
        final = task(db, target.public_id)
        assert final["attempt"] == 2 and final["checkpoint"].get("final_check")
        reasons = [e["reason"] for e in events(db, final["id"])]
        assert "final_check" in reasons and reasons[-1] == "published"
    for platform, described, public_id in drafted:
        final = task(db, public_id)
        assert (final["status"], final["attempt"]) == ("succeeded", 2), platform
        assert sandbox.client.draft_count(platform, described["name"]) == 0, platform
        assert len(published_posts(sandbox, platform, described)) == 1, platform
        assert not final["leftovers"], platform

    # The double dev.to cannot delete is the user's to see: the API's task and task show.
    final = task(db, doubled_id)
    assert final["status"] == "succeeded"
    [leftover] = final["leftovers"]
    assert sandbox.client.draft_count("devto", doubled["name"]) == 1
    assert task_out(final).leftovers == [leftover]
    shown = subprocess.run(
        [CONTENTHUB, "task", "show", doubled_id, "--user", "ann"],
        env={**settings, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "leftovers" in shown.stdout and leftover in shown.stdout


def published_posts(sandbox: SandboxServer, platform: str, account: dict) -> list[dict]:
    return [p for p in posts_of(sandbox, platform, account) if p["status"] == "published"]


def create_marked_draft(account: dict, platform: str, title: str, marker: str) -> None:
    """A second draft as a lost request made it (a second lost creation)."""
    base = account["options"]["base_url"]
    if platform == "devto":
        answer = httpx.post(
            f"{base}/api/articles",
            headers={"api-key": account["credentials"]["api_key"]},
            json={"article": {"title": title, "body_markdown": f"x\n\n{marker}\n"}},
        )
    else:
        creds = account["credentials"]
        answer = httpx.post(
            f"{base}/wp-json/wp/v2/posts",
            auth=(creds["username"], creds["app_password"]),
            json={"title": title, "content": f"<p>x</p>\n{marker}", "status": "draft"},
        )
    answer.raise_for_status()


def events(db: Database, task_id: int) -> list[dict]:
    return db.read(lambda s: storage.task_events(s, task_id))
