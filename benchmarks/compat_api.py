"""The old endpoints (``CONTENTHUB_COMPAT_API``) against their /api/v1 equivalents, in one run.

Needs ``wrk`` (Debian package ``wrk``; ``scripts/setup bench`` installs it).

    .venv/bin/python benchmarks/compat_api.py                  # SQLite and PostgreSQL, 10 s a row
    .venv/bin/python benchmarks/compat_api.py --seconds 5 --backends sqlite

50 concurrent clients, each a user of its own with one Zhihu account, against ``contenthub
api`` (no worker: the tasks stay queued, so only the API's own work is measured). Pairs:

* ``POST /api/publish_zhihu`` (the article sent inline, found again by its ``article_id``,
  ``republish``) against ``POST /api/v1/publish`` (a stored article's id) — the old call does
  one lookup more per request;
* ``GET /api/publish_tasks`` against ``GET /api/v1/tasks`` (50 tasks, each translated).

The submission limit is raised for the run; its check still runs on every request.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from api import CLIENTS, free_port, hammer, make_token, wait_ready  # noqa: E402
from dispatch import CONTENTHUB, create_database  # noqa: E402

CASES = [
    ("POST /api/publish_zhihu", "POST", "/api/publish_zhihu", "old"),
    ("POST /api/v1/publish", "POST", "/api/v1/publish", "v1"),
    ("GET /api/publish_tasks", "GET", "/api/publish_tasks?limit=50", "old"),
    ("GET /api/v1/tasks", "GET", "/api/v1/tasks?limit=50", "v1"),
]


def make_client(base: str, url: str) -> tuple[str, dict, dict]:
    """A user with a Zhihu account, and the body each API publishes one article with."""
    token = make_token(url)
    headers = {"Authorization": f"Bearer {token}"}
    account = httpx.post(
        f"{base}/api/v1/accounts", headers=headers, json={"platform": "zhihu", "name": "bench"}
    )
    account.raise_for_status()
    article = httpx.post(
        f"{base}/api/v1/articles", headers=headers, json={"title": "文章标题", "body": "文章内容"}
    ).json()["id"]
    v1 = {"article_id": article, "account_ids": [account.json()["id"]], "republish": True}
    old = {"title": "文章标题", "content": "文章内容", "article_id": 123, "republish": True}
    return token, old, v1


def measure(backend: str, seconds: float, workdir: Path) -> list[tuple[str, ...]]:
    bench = create_database(backend, workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CONTENTHUB_DATABASE_URL": bench.url,
        "CONTENTHUB_DATA_DIR": str(workdir),
        "CONTENTHUB_COMPAT_API": "1",
        "CONTENTHUB_SUBMISSIONS_PER_MINUTE": "100000000",
    }
    with open(workdir / "api.log", "ab") as log:
        proc = subprocess.Popen(
            [CONTENTHUB, "api", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    rows = []
    try:
        wait_ready(base, proc)
        clients = [make_client(base, bench.url) for _ in range(CLIENTS)]
        for label, method, path, which in CASES:
            bodies = [(token, old if which == "old" else v1) for token, old, v1 in clients]
            rate, p50, p99, errors = hammer(base, bodies, method, path, seconds, workdir)
            rows.append((backend, label, f"{rate:,.0f}", f"{p50:.1f}", f"{p99:.1f}", str(errors)))
            print(f"  {backend} {label}: {rows[-1][2]} req/s", file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        bench.drop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "database",
        "endpoint",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        title=f"old endpoints vs /api/v1: {CLIENTS} clients, {args.seconds:.0f} s each",
    )
    with tempfile.TemporaryDirectory(prefix="contenthub-compat-bench-") as tmp:
        for backend in args.backends.split(","):
            workdir = Path(tmp) / backend
            workdir.mkdir()
            for row in measure(backend, args.seconds, workdir):
                table.add_row(*row)
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
