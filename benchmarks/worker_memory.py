"""Memory of one worker process, for docs/production.md's capacity figures.

A real ``contenthub worker --slots 4`` (SQLite, the platform sandbox on loopback) is measured
(RSS and PSS of the process and everything it started):

1. idle, after start-up;
2. after 20 publishes over HTTP (dev.to's twin): the HTTP clients and adapters loaded;
3. after a browser publish (Toutiao's twin, which needs Chromium): the driver and Chromium
   are now part of the worker.

    .venv/bin/python benchmarks/worker_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from browser import _descendants, _pss, _rss  # noqa: E402
from contenthub.clock import utcnow  # noqa: E402
from contenthub.platforms import outbound  # noqa: E402
from contenthub.sandbox.server import SandboxServer  # noqa: E402
from contenthub.secrets_box import SecretBox  # noqa: E402
from contenthub.services import accounts, users  # noqa: E402
from contenthub.storage import Database, migrate  # noqa: E402

CONTENTHUB = str(Path(sys.executable).parent / "contenthub")
MIB = 1024 * 1024


def tree_memory(pid: int) -> tuple[float, float, int]:
    pids = [pid, *_descendants(pid)]
    return sum(_rss(p) for p in pids) / MIB, sum(_pss(p) for p in pids) / MIB, len(pids)


def publish(env: dict[str, str], post: Path, account: str, *, times: int = 1) -> None:
    for _ in range(times):
        subprocess.run(
            [CONTENTHUB, "publish", str(post), "-a", account, "--wait"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, SandboxServer() as sandbox:
        data = Path(tmp)
        url = f"sqlite:///{data / 'memory.db'}"
        env = {
            **os.environ,
            "CONTENTHUB_DATABASE_URL": url,
            "CONTENTHUB_DATA_DIR": str(data),
            "CONTENTHUB_OUTBOUND_ALLOW": sandbox.url.removeprefix("http://"),
        }
        allow = sandbox.url.removeprefix("http://")
        outbound.configure(outbound.policy_from_settings([allow]))
        db = Database.connect(url)
        migrate.upgrade(db.engine)
        os.environ["CONTENTHUB_DATA_DIR"] = str(data)
        me = users.default_user_ensure(db, "local", data_dir=data, now=utcnow())
        accounts.bind_demo_accounts(db, me, sandbox.url, SecretBox.from_env(data), now=utcnow())
        db.dispose()
        post = data / "post.md"
        post.write_text("# Memory\n\nA paragraph long enough to be an article body.\n")
        with open(data / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [CONTENTHUB, "worker", "--slots", "4"], env=env, stdout=log, stderr=log
            )
        try:
            rows = []
            while b"worker started" not in (data / "worker.log").read_bytes():
                time.sleep(0.2)
            rows.append(("idle after start", *tree_memory(worker.pid)))
            publish(env, post, "devto-demo", times=20)
            rows.append(("after 20 HTTP publishes", *tree_memory(worker.pid)))
            publish(env, post, "toutiao-demo")
            rows.append(("after a browser publish", *tree_memory(worker.pid)))
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    print("| worker process (4 slots) | RSS MiB | PSS MiB | processes |")
    print("|---|---|---|---|")
    for name, rss, pss, count in rows:
        print(f"| {name} | {rss:.0f} | {pss:.0f} | {count} |")


if __name__ == "__main__":
    main()
