"""What a command loads: only what it runs (a person waits for every module imported), and a
plugin that cannot be imported is one clear line, at a server's start or at the first command
that needs a platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import CONTENTHUB

# What listing tasks never needs: the adapters and their HTTP client, Markdown, the worker,
# the API.
NOT_FOR_A_LISTING = [
    "contenthub.platforms.base",
    "contenthub.services.accounts",
    "contenthub.worker",
    "contenthub.api.app",
    "httpx",
    "markdown_it",
    "pydantic",
    "fastapi",
]

LIST_AND_REPORT = f"""
import json, sys
from contenthub.cli import app
try:
    app(["task", "list", "--json"])
except SystemExit as end:
    assert not end.code, end.code
print(json.dumps([m for m in {NOT_FOR_A_LISTING!r} if m in sys.modules]))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTENTHUB_")}
    return {**env, **extra}


def _set_up(workdir: Path) -> None:
    """The first command anywhere makes the database, the local user and its local site
    (whose options the local adapter checks): done before what is measured."""
    subprocess.run([CONTENTHUB, "task", "list"], cwd=workdir, env=_env(), check=True, timeout=120)


def test_listing_tasks_loads_no_adapter_no_worker_and_no_api(tmp_path: Path) -> None:
    _set_up(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", LIST_AND_REPORT],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    listing, loaded = done.stdout.strip().rsplit("\n", 1)
    assert json.loads(listing) == []
    assert json.loads(loaded) == []


def test_a_plugin_that_cannot_be_imported_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "hello.md").write_text("# Hello\n\nA body.\n", encoding="utf-8")
    _set_up(tmp_path)
    env = _env(CONTENTHUB_PLATFORM_MODULES="no_such_plugin")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CONTENTHUB, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    expected = "CONTENTHUB_PLATFORM_MODULES: cannot import 'no_such_plugin'"
    # A server stops at its start, before it claims anything.
    worker = run("worker")
    assert worker.returncode == 1 and expected in worker.stderr, worker.stderr
    assert "Traceback" not in worker.stderr
    # A command that needs no platform works; one that looks a platform up says why it cannot.
    assert run("task", "list").returncode == 0
    publish = run("publish", "hello.md", "-a", "local-site")
    assert publish.returncode == 1 and expected in publish.stderr, publish.stderr
    assert "Traceback" not in publish.stderr
    assert json.loads(run("task", "list", "--json").stdout) == []
