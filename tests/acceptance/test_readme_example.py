"""The README's example as a person runs it: ``contenthub serve --demo`` (API, a real worker and
the sandbox), then the README's own ``publish examples/hello.md … --wait`` line, read from the
README, to every demo account. Then a Markdown file with an image beside it, published to every
account whose platform hosts images (``requires.hosts_images``), edited and published again:
every post of a platform that edits posts (``requires.edits_posts``) is updated in place, the
others refuse a second post unless asked; the image is on each platform."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from harness import CONTENTHUB, free_port, wait_until

from contenthub import storage
from contenthub.platforms.registry import publisher_for
from contenthub.platforms.requirements import Requirements
from contenthub.sandbox.server import PLATFORMS
from contenthub.storage.db import Database
from tests.platforms.conftest import png

REPO = Path(__file__).resolve().parents[2]


def readme_publish_command() -> list[str]:
    """The README's ``publish examples/hello.md`` command, continuation lines joined."""
    lines = (REPO / "README.md").read_text("utf-8").splitlines()
    start = next(
        i for i, line in enumerate(lines) if "contenthub publish examples/hello.md" in line
    )
    command = ""
    for line in lines[start:]:
        command += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            break
    words = shlex.split(command.split("#")[0])
    assert words[0] == ".venv/bin/contenthub"
    return [CONTENTHUB, *words[1:]]


def rules_of(account: str) -> Requirements:
    """A demo account's platform rules: ``<platform>-demo``, and ``local-site``."""
    platform = "local" if account == "local-site" else account.removesuffix("-demo")
    return publisher_for(platform).requires


@pytest.fixture
def demo(tmp_path: Path, processes) -> dict[str, str]:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTENTHUB_")}
    # About 35 publishes in a minute: more than the default limit of 20.
    env |= {"CONTENTHUB_POLL_SECONDS": "0.1", "CONTENTHUB_SUBMISSIONS_PER_MINUTE": "80"}
    env |= {"COLUMNS": "200"}
    sandbox_port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    command = [CONTENTHUB, "serve", "--demo", "--slots", "8", "--port", str(free_port())]
    server = subprocess.Popen(
        [*command, "--sandbox-port", str(sandbox_port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=log,
    )
    processes.append(server)
    log.close()
    wait_until(
        lambda: b"worker started" in (tmp_path / "serve.log").read_bytes(),
        timeout=60,
        what="contenthub serve --demo to start",
    )
    yield {**env, "cwd": str(tmp_path), "sandbox": f"http://127.0.0.1:{sandbox_port}"}
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0


def run(demo: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in demo.items() if k not in ("cwd", "sandbox")}
    return subprocess.run(
        list(args), cwd=demo["cwd"], env=env, capture_output=True, text=True, timeout=120
    )


def tasks(demo: dict[str, str]) -> list[dict]:
    """Every task, read from the demo's embedded database (quicker than a CLI process)."""
    db = Database.connect(f"sqlite:///{demo['cwd']}/data/contenthub.db")
    try:
        return db.read(lambda s: storage.task_list(s, user_id=None, where=storage.TaskFilter()))
    finally:
        db.engine.dispose()


def test_the_readme_example_publishes_to_every_demo_account_and_updates(
    demo: dict[str, str],
) -> None:
    command = readme_publish_command()
    accounts = [command[i + 1] for i, word in enumerate(command) if word == "-a"]
    assert sorted(accounts) == sorted(["local-site", *(f"{p}-demo" for p in PLATFORMS)])

    done = run(demo, *command)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "devto cannot host a cover from a file" in done.stdout  # said, not failed
    assert "juejin category: 后端" in done.stdout
    assert "yuque shows no cover" in done.stdout and "jianshu keeps no tags" in done.stdout
    assert sorted(t["status"] for t in tasks(demo)) == ["succeeded"] * len(accounts)

    # A file with an image beside it; dev.to cannot host it, which the dry run says first.
    folder = Path(demo["cwd"]) / "post"
    (folder / "img").mkdir(parents=True)
    (folder / "img" / "local.png").write_bytes(png(6, 6, shade=3))
    text = "# Beside\n\nAn image beside this file, with words enough for any summary.\n\n"
    (folder / "post.md").write_text(text + "![here](img/local.png)\n", encoding="utf-8")
    added = run(demo, CONTENTHUB, "article", "add", str(folder / "post.md"), "--tag", "demo")
    assert added.stdout.startswith("article 2 added with 1 image"), added.stdout + added.stderr
    picked = [a for a in accounts if rules_of(a).hosts_images]
    unhostable = [a for a in accounts if a not in picked]
    assert unhostable, "some platform (dev.to, Yuque) cannot host an image from a file"
    every = [w for a in picked for w in ("-a", a)]
    not_hosted = [w for a in unhostable for w in ("-a", a)]
    dry = run(demo, CONTENTHUB, "publish", "2", *not_hosted, *every, "--dry-run")
    assert dry.returncode == 2
    for account in unhostable:
        assert f"{account.removesuffix('-demo')} cannot host images" in dry.stdout
    assert "wechat cover: the body's first image, img/local.png" in dry.stdout
    assert run(demo, CONTENTHUB, "publish", "2", *every, "--wait").returncode == 0

    (folder / "post.md").write_text(text + "![here](img/local.png)\n\nEdited.\n", encoding="utf-8")
    run(demo, CONTENTHUB, "article", "edit", "2", "--file", str(folder / "post.md"))
    editable = [a for a in picked if rules_of(a).edits_posts]
    again = run(demo, CONTENTHUB, "publish", "2", *[w for a in editable for w in ("-a", a)])
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("(updates post ") == len(editable)
    for account in (a for a in picked if a not in editable):  # one post, unless asked
        refused = run(demo, CONTENTHUB, "publish", "2", "-a", account)
        assert refused.returncode == 2 and "--again" in refused.stderr, account
    wait_until(
        lambda: all(t["status"] == "succeeded" for t in tasks(demo)),
        timeout=60,
        what="the updates to finish",
    )
    mine = [t for t in tasks(demo) if t["title"] == "Beside"]
    updates = [t for t in mine if t.get("outcome") == "updated"]
    assert len(updates) == len(editable)
    for account in (a for a in picked if a != "local-site"):
        platform = account.removesuffix("-demo")
        posts = httpx.get(f"{demo['sandbox']}/_admin/posts", params={"platform": platform}).json()
        [post] = [p for p in posts if p["title"] == "Beside" and p["status"] == "published"]
        assert "img/local.png" not in post["body"], platform
        assert ("Edited." in post["body"]) == (account in editable), platform
