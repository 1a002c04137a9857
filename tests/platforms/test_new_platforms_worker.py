"""The newer adapters published end to end by a real ``contenthub worker``: one worker, one
task per platform, each against its sandbox twin (MetaWeblog, Ghost, Yuque, the cookie
platforms of issue 17) or a local bare git repository (the static site). Run once, on SQLite:
what is tested is the adapters' side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from harness import start_worker, wait_until, worker_env

from contenthub import storage
from contenthub.sandbox.server import SandboxServer
from contenthub.secrets_box import SecretBox
from contenthub.storage import migrate
from contenthub.storage.db import Database
from tests.factories import enqueue, make_account, make_user
from tests.platforms.conftest import new_account, posts_of
from tests.platforms.test_adapters import public_id
from tests.platforms.test_gitsite import SITE, commits_of, hugo_repository

SECRET_KEY = Fernet.generate_key()
SANDBOXED = ["metaweblog", "ghost", "yuque", "segmentfault", "jianshu", "bilibili"]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database.connect(f"sqlite:///{tmp_path / 'contenthub.db'}")
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def test_a_worker_publishes_to_each_new_platform(
    sqlite_db: Database, processes, tmp_path: Path, sandbox: SandboxServer
) -> None:
    db = sqlite_db
    user = make_user(db, "ann")
    box = SecretBox(SECRET_KEY)
    targets = {platform: new_account(sandbox, platform) for platform in SANDBOXED}
    tasks = {}
    bare = hugo_repository(tmp_path)
    targets["gitsite"] = {
        "name": "site",
        "options": {"remote": str(bare), "base_url": SITE},
        "credentials": {},
    }
    for platform, target in targets.items():
        account = make_account(
            db,
            user,
            target["name"],
            platform=platform,
            options=target["options"],
            credentials=box.seal(target["credentials"]),
        )
        [tasks[platform]] = enqueue(db, user, account, tags=["contenthub"])
    env = worker_env(
        db.engine.url.render_as_string(hide_password=False),
        tmp_path,
        CONTENTHUB_SECRET_KEY=SECRET_KEY.decode(),
        CONTENTHUB_LOCAL_ROOTS=str(tmp_path),
    )
    log = tmp_path / "worker.log"
    start_worker(processes, env, slots=len(tasks), log=log)

    def finished() -> dict[str, dict]:
        rows = {
            p: db.read(lambda s, i=i: storage.task_get(s, i, user_id=None))
            for p, i in tasks.items()
        }
        return rows if all(r["status"] in ("succeeded", "failed") for r in rows.values()) else {}

    rows = wait_until(finished, timeout=60, what="every publish to finish")
    for platform, row in rows.items():
        assert row["status"] == "succeeded", (
            f"{platform}: {row['error_class']}: {row['error_message']}\n"
            f"{log.read_text(errors='replace')[-2000:]}"
        )
        if platform == "gitsite":
            assert commits_of(bare, tasks[platform]) == [row["post_id"]]
            assert row["result_url"].startswith(f"{SITE}/posts/post-0-")
            continue
        [post] = posts_of(sandbox, platform, targets[platform])
        assert post["status"] == "published" and row["post_id"] == public_id(post)
        assert httpx.get(row["result_url"], timeout=10).status_code == 200
