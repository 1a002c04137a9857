"""The real ``contenthub`` command in subprocesses, on its embedded default (SQLite in ./data)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from harness import CONTENTHUB, SUPPORT, free_port, wait_until

# A time ahead, within the two years a publish may be scheduled.
NEXT_YEAR = datetime.now().year + 1


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("CONTENTHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CONTENTHUB_POLL_SECONDS", "0.1")
    # The test platform (with its failure switches) is loaded like any adapter plugin.
    monkeypatch.setenv("CONTENTHUB_PLATFORM_MODULES", "noop_platform")
    # The test platform's folder first, then whatever source the test run itself uses.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])
    )
    (tmp_path / "hello.md").write_text("# Hello 世界\n\nFirst **post**.\n", encoding="utf-8")
    return tmp_path


def run(
    workdir: Path, *args: str, timeout: float = 60, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONTENTHUB, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": str(columns)},
    )


@pytest.fixture
def server(workdir: Path, processes):
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        # A free port: other test runs on this machine may hold the default one.
        [CONTENTHUB, "serve", "--slots", "2", "--port", str(free_port())],
        cwd=workdir,
        stdout=log,
        stderr=log,
    )
    processes.append(proc)
    log.close()
    wait_until(
        lambda: b"worker started" in (workdir / "serve.log").read_bytes(),
        timeout=60,
        what="contenthub serve to start",
    )
    yield proc
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_publish_and_watch_it_finish(workdir: Path, server) -> None:
    result = run(
        workdir, "publish", "hello.md", "--account", "local-site", "--tag", "demo", "--wait"
    )
    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stdout
    [task] = json.loads(run(workdir, "task", "list", "--json").stdout)
    assert task["status"] == "succeeded" and task["title"] == "Hello 世界"
    page = Path(task["result_url"].removeprefix("file://")).read_text(encoding="utf-8")
    assert "<strong>post</strong>" in page and "#demo" in page
    shown = json.loads(run(workdir, "task", "show", task["public_id"], "--json").stdout)
    changes = [(e["from_status"], e["to_status"]) for e in shown["events"] if e["kind"] == "status"]
    assert changes == [(None, "queued"), ("queued", "running"), ("running", "succeeded")]
    # The progress bar names the account and its platform, not only the task.
    assert f"local-site on local · {task['public_id'][:8]}" in result.stdout
    # Piped into a narrow reader, ids and URLs come whole, one task a line.
    narrow = run(workdir, "task", "list", columns=40)
    [header, line] = narrow.stdout.splitlines()
    assert header.split("\t")[0] == "task"
    cells = line.split("\t")
    assert cells[0] == task["public_id"] and cells[-1] == task["result_url"]
    shown = run(workdir, "task", "show", task["public_id"][:8], columns=40)
    assert task["public_id"] in shown.stdout and task["result_url"] in shown.stdout


def test_schedule_then_cancel(workdir: Path, server) -> None:
    result = run(
        workdir,
        "publish",
        "hello.md",
        "-a",
        "local-site",
        "--at",
        f"{NEXT_YEAR}-01-01 09:00",
        "--tz",
        "Asia/Shanghai",
        "--priority",
        "1",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    [public_id] = json.loads(result.stdout)["tasks"]
    task = json.loads(run(workdir, "task", "show", public_id, "--json").stdout)
    assert task["status"] == "scheduled" and task["due_at"].startswith(
        f"{NEXT_YEAR}-01-01T01:00:00"
    )
    assert run(workdir, "task", "cancel", public_id).returncode == 0
    task = json.loads(run(workdir, "task", "show", public_id, "--json").stdout)
    assert task["status"] == "cancelled"
    again = run(workdir, "task", "cancel", public_id)
    assert again.returncode == 2 and "already cancelled" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["publish", "missing.md", "-a", "local-site"], "missing.md does not exist"),
        (["publish", "hello.md", "-a", "local-site", "--priority", "11"], "priority"),
        (["publish", "hello.md", "-a", "nobody"], "no account 'nobody'"),
        (["publish", "hello.md", "-a", "local-site", "--at", "soon"], "is not a time"),
        (["task", "show", "no-such-task"], "task no-such-task not found"),
        (["article", "add", "hello.md", "--title", "t" * 600], "title: must be 1–500"),
        (["publish", "hello.md", "-a", "local-site", "--title", "t" * 600], "must be 1–500"),
        (["publish", "hello.md", "-a", "local-site", "--at", "9999-01-01"], "two years ahead"),
        (["article", "show", "4294967296"], "out of range"),
        (["publish", "4294967296", "-a", "local-site"], "no article 4294967296"),
        (["scheduler", "trigger", "4294967296"], "out of range"),
        (["scheduler", "history", "99999999999"], "out of range"),
        (["publish-pool", "cancel", "4294967296"], "out of range"),
        (["article", "add", "a\x01b.md"], "control character"),
        (
            [
                "scheduler",
                "create",
                "--name",
                "never",
                "--type",
                "publishing",
                "--schedule-type",
                "cron",
                "--cron",
                "0 0 30 2 *",
            ],
            "never fires",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(
    workdir: Path, args: list[str], message: str
) -> None:
    result = run(workdir, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    listed = run(workdir, "task", "list", "--json")
    assert json.loads(listed.stdout) == []
    assert json.loads(run(workdir, "article", "list", "--json").stdout)["total"] == 0
    assert json.loads(run(workdir, "scheduler", "list", "--json").stdout) == []


def test_files_the_api_would_refuse_are_refused_and_create_nothing(workdir: Path) -> None:
    (workdir / "nul.md").write_bytes(b"# Title\n\nbody \x00 here\n")
    with open(workdir / "big.md", "wb") as big:
        big.write(b"# Big\n\n" + b"x" * (25 * 10**6))
    for file, message in (("nul.md", "NUL"), ("big.md", "larger than an article may be")):
        for command in (["publish", file, "-a", "local-site"], ["article", "add", file]):
            result = run(workdir, *command)
            assert result.returncode == 2, result.stdout
            assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
            assert "Traceback" not in result.stderr + result.stdout
    assert json.loads(run(workdir, "task", "list", "--json").stdout) == []
    assert json.loads(run(workdir, "article", "list", "--json").stdout)["total"] == 0


def test_an_article_is_published_once_per_account_unless_asked_again(workdir: Path) -> None:
    assert run(workdir, "article", "add", "hello.md").returncode == 0
    past = run(workdir, "publish", "1", "-a", "local-site", "--at", "2020-01-01 00:00")
    assert past.returncode == 0, past.stderr
    assert "note: the time asked for, 2020-01-01" in past.stdout
    assert "is past: publishing now" in past.stdout
    again = run(workdir, "publish", "1", "-a", "local-site")
    assert again.returncode == 2 and "already" in again.stderr and "--again" in again.stderr
    twice = run(workdir, "publish", "1", "-a", "local-site", "-a", "local-site")
    assert twice.returncode == 2 and "named twice" in twice.stderr
    asked = run(workdir, "publish", "1", "-a", "local-site", "--again")
    assert asked.returncode == 0, asked.stderr
    assert len(json.loads(run(workdir, "task", "list", "--json").stdout)) == 2


def test_a_failing_publish_makes_wait_exit_non_zero(workdir: Path, server) -> None:
    added = run(workdir, "account", "add", "noop", "broken", "-o", "fail=rejected")
    assert added.returncode == 0, added.stderr
    result = run(workdir, "publish", "hello.md", "-a", "broken", "--wait")
    assert result.returncode == 1
    assert "failed" in result.stdout and "content violates the rules" in result.stdout


def test_users_tokens_articles_and_cookie_logins(workdir: Path) -> None:
    short = run(workdir, "user", "create", "ann", "--password", "short")
    assert short.returncode == 2 and "password" in short.stderr
    assert run(workdir, "user", "create", "ann", "--password", "long enough pw").returncode == 0
    token = run(workdir, "user", "token", "ann").stdout.strip()
    assert token.startswith("chub_") and len(token) > 40

    added = subprocess.run(
        [CONTENTHUB, "article", "add", "-", "--user", "ann", "--tag", "x"],
        cwd=workdir,
        input="# From stdin\n\nbody\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    [item] = json.loads(run(workdir, "article", "list", "--user", "ann", "--json").stdout)["items"]
    assert item["title"] == "From stdin" and item["tags"] == ["x"]
    shown = json.loads(
        run(workdir, "article", "show", str(item["id"]), "--user", "ann", "--json").stdout
    )
    assert shown["body"] == "body\n"
    # Another user cannot see it (an admin, like the default user, can).
    assert run(workdir, "user", "create", "bob", "--password", "long enough pw").returncode == 0
    assert run(workdir, "article", "show", str(item["id"]), "--user", "bob").returncode == 2
    assert run(workdir, "article", "show", str(item["id"])).returncode == 0

    assert run(workdir, "account", "add", "noop", "site", "--user", "ann").returncode == 0
    netscape = workdir / "cookies.txt"
    netscape.write_text(
        "# Netscape HTTP Cookie File\n.zhihu.com\tTRUE\t/\tTRUE\t2147483647\tz_c0\tSECRET-COOKIE\n"
    )
    login = run(workdir, "account", "login", "site", "--cookies", str(netscape), "--user", "ann")
    assert login.returncode == 0, login.stderr
    assert "1 cookies stored" in login.stdout and "SECRET-COOKIE" not in login.stdout
    state = workdir / "state.json"
    state.write_text(
        json.dumps({"cookies": [{"name": "a", "value": "b", "domain": "x"}], "origins": []})
    )
    assert (
        run(
            workdir, "account", "login", "site", "--cookies", str(state), "--user", "ann"
        ).returncode
        == 0
    )
    garbage = workdir / "garbage.txt"
    garbage.write_text("not cookies")
    refused = run(workdir, "account", "login", "site", "--cookies", str(garbage), "--user", "ann")
    assert refused.returncode == 2 and "neither JSON nor a Netscape cookie file" in refused.stderr
    check = run(workdir, "account", "check", "site", "--user", "ann")
    assert check.returncode == 0 and "active" in check.stdout
    assert (
        json.loads(run(workdir, "stats", "--user", "ann", "--json").stdout)["by_status_now"] == {}
    )


def test_publish_a_stored_article_by_its_id(workdir: Path, server) -> None:
    added = run(workdir, "article", "add", "hello.md")
    assert added.returncode == 0, added.stderr
    [item] = json.loads(run(workdir, "article", "list", "--json").stdout)["items"]
    result = run(workdir, "publish", str(item["id"]), "-a", "local-site", "--wait")
    assert result.returncode == 0, result.stderr
    [task] = json.loads(run(workdir, "task", "list", "--json").stdout)
    assert task["status"] == "succeeded" and task["article_id"] == item["id"]
    missing = run(workdir, "publish", "999", "-a", "local-site")
    assert missing.returncode == 2 and "no article 999" in missing.stderr


# -- publish and tasks as a person meets them ---------------------------------------------


def test_publishing_a_file_beyond_the_submission_limit_creates_nothing(workdir: Path) -> None:
    twenty = [arg for _ in range(20) for arg in ("-a", "local-site")]
    first = run(workdir, "publish", "hello.md", "--again", *twenty)
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 20
    over = run(workdir, "publish", "hello.md", "-a", "local-site")
    assert over.returncode == 2
    assert over.stderr.count("\n") == 1 and "at most 20 new publish tasks per 60 s" in over.stderr
    assert "Traceback" not in over.stderr + over.stdout
    assert len(json.loads(run(workdir, "task", "list", "--json").stdout)) == 20
    articles = json.loads(run(workdir, "article", "list", "--json").stdout)
    assert articles["total"] == 1  # the refused publish stored no article either


def test_tasks_are_named_by_any_unique_prefix(workdir: Path) -> None:
    many = [arg for _ in range(17) for arg in ("-a", "local-site")]
    assert run(workdir, "publish", "hello.md", "--again", *many).returncode == 0
    ids = [t["public_id"] for t in json.loads(run(workdir, "task", "list", "--json").stdout)]
    # 17 ids over 16 hex digits: at least one first digit is shared.
    firsts = [i[0] for i in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    ambiguous = run(workdir, "task", "show", shared)
    assert ambiguous.returncode == 2
    assert f"{shared} matches {firsts.count(shared)} tasks" in ambiguous.stderr
    task = ids[0]
    prefix = next(task[:n] for n in range(1, 37) if sum(i.startswith(task[:n]) for i in ids) == 1)
    shown = json.loads(run(workdir, "task", "show", prefix, "--json").stdout)
    assert shown["public_id"] == task
    cancelled = run(workdir, "task", "cancel", task[:8])
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == f"{task} cancelled"
    retried = run(workdir, "task", "retry", task[:8])
    assert retried.returncode == 0 and retried.stdout.strip() == f"{task} queued"
    missing = run(workdir, "task", "show", "ffffffff-0000")
    assert missing.returncode == 2 and "task ffffffff-0000 not found" in missing.stderr


def test_a_scheduled_publish_says_so_and_a_retry_keeps_its_time(workdir: Path) -> None:
    result = run(
        workdir,
        "publish",
        "hello.md",
        "-a",
        "local-site",
        "--at",
        f"{NEXT_YEAR}-01-01 09:00",
        "--tz",
        "Asia/Shanghai",
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    word, public_id, rest = line.split(" ", 2)
    assert word == "scheduled" and rest == f"for {NEXT_YEAR}-01-01 09:00:00+08:00"
    assert run(workdir, "task", "cancel", public_id).returncode == 0
    retried = run(workdir, "task", "retry", public_id)
    assert retried.returncode == 0
    assert retried.stdout.startswith(f"{public_id} scheduled for {NEXT_YEAR}-01-01")
    task = json.loads(run(workdir, "task", "show", public_id, "--json").stdout)
    assert task["status"] == "scheduled" and task["due_at"].startswith(
        f"{NEXT_YEAR}-01-01T01:00:00"
    )
    assert [e["reason"] for e in task["events"]] == ["scheduled", "cancelled", "rescheduled"]
