"""``contenthub publish-pool …``, ``contenthub scheduler …`` and ``contenthub stats`` as a user
types them, against the embedded SQLite default."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from harness import CONTENTHUB

import contenthub
from tests.acceptance import test_cli

run = test_cli.run
clean_workdir = test_cli.workdir  # a clean directory, the test platform loaded
server = test_cli.server  # the same fixture: ``contenthub serve`` in that directory
# The code under test: the checkout this test process imports, not the installed one.
SOURCE = Path(contenthub.__file__).resolve().parents[1]


@pytest.fixture
def workdir(clean_workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``clean_workdir``, with every command it runs importing the code under test."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.environ["PYTHONPATH"], str(SOURCE)]))
    return clean_workdir


def article(workdir: Path) -> str:
    added = run(workdir, "article", "add", "hello.md")
    assert added.returncode == 0, added.stderr
    return added.stdout.split()[1]


def test_pool_add_list_stats_and_times_in_the_users_zone(workdir: Path) -> None:
    content = article(workdir)
    added = run(
        workdir,
        "publish-pool", "add", content,
        "--priority", "1",
        "--scheduled-at", "2026-02-06 12:00:00",
        "--tz", "Asia/Shanghai",
        "--account", "local-site",
        "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    entry = json.loads(added.stdout)
    assert entry["scheduled_at"] == "2026-02-06T04:00:00+00:00"
    assert entry["priority"] == 1 and entry["status"] == "pending"
    assert run(workdir, "publish-pool", "add", content).returncode == 0
    listed = json.loads(run(workdir, "publish-pool", "list", "--json").stdout)
    assert listed["total"] == 2 and listed["items"][0]["id"] == entry["id"]
    stats = json.loads(run(workdir, "publish-pool", "stats", "--json").stdout)
    assert stats["total"] == 2 and stats["pending"] == 2
    table = run(workdir, "publish-pool", "list")
    assert "2026-02-06 04:00:00" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999"], "content_id: no article 999"),
        (["{id}", "--priority", "11"], "priority: must be a whole number from 1"),
        (["{id}", "--scheduled-at", "soon"], "scheduled_at: 'soon' is not a time"),
        (["{id}", "--account", "nope"], "account: no account 'nope'"),
    ],
)
def test_bad_pool_input_is_one_line_and_exit_2(workdir: Path, args: list, message: str) -> None:
    content = article(workdir)
    result = run(workdir, "publish-pool", "add", *(a.format(id=content) for a in args))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert json.loads(run(workdir, "publish-pool", "stats", "--json").stdout)["total"] == 0


def test_scheduler_create_prompts_for_what_flags_leave_out(workdir: Path) -> None:
    answers = "nightly\naccount_check\ncron\n0 2 * * *\n"
    created = subprocess.run(
        [CONTENTHUB, "scheduler", "create", "--job-tz", "Asia/Shanghai", "--json"],
        cwd=workdir,
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    job = json.loads(created.stdout[created.stdout.index("{") :])
    assert job["name"] == "nightly" and job["cron"] == "0 2 * * *"
    assert job["next_run"].endswith("18:00:00+00:00")  # 02:00 in Shanghai


def test_scheduler_scripted_trigger_history_enable_disable(workdir: Path) -> None:
    created = run(
        workdir,
        "scheduler", "create",
        "--name", "publisher",
        "--type", "publishing",
        "--schedule-type", "interval",
        "--interval", "300",
        "--param", "wait_seconds=0",
        "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    job_id = str(json.loads(created.stdout)["id"])
    run(workdir, "publish-pool", "add", article(workdir))
    triggered = run(workdir, "scheduler", "trigger", job_id, "--json")
    assert triggered.returncode == 0, triggered.stderr
    result = json.loads(triggered.stdout)["result"]
    assert result["message"] == "Publishing completed: 0 succeeded, 0 failed"
    assert result["data"]["results"][0]["status"] == "publishing"
    history = json.loads(run(workdir, "scheduler", "history", job_id, "--json").stdout)
    assert [h["triggered_by"] for h in history] == ["manual"]
    assert "disabled" in run(workdir, "scheduler", "disable", job_id).stdout
    jobs = json.loads(run(workdir, "scheduler", "list", "--json").stdout)
    assert jobs[0]["enabled"] is False
    assert "enabled" in run(workdir, "scheduler", "enable", job_id).stdout
    stats = json.loads(run(workdir, "stats", "--json").stdout)
    assert stats["by_status_now"] == {"queued": 1} and stats["queue"]["depth"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "mining", "--schedule-type", "interval", "--interval", "5"], "job_type:"),
        (["--type", "publishing", "--schedule-type", "cron", "--cron", "bad"], "cron:"),
        (
            ["--type", "publishing", "--schedule-type", "interval", "--interval", "-5"],
            "interval_seconds:",
        ),
    ],
)
def test_bad_job_input_is_one_line_and_exit_2(workdir: Path, args: list, message: str) -> None:
    result = run(workdir, "scheduler", "create", "--name", "x", *args)
    assert result.returncode == 2 and message in result.stderr
    assert json.loads(run(workdir, "scheduler", "list", "--json").stdout) == []


def test_pool_list_shows_titles_and_a_past_time_is_said_to_go_at_once(workdir: Path) -> None:
    content = article(workdir)
    added = run(workdir, "publish-pool", "add", content, "--scheduled-at", "2020-01-01 09:00")
    assert added.returncode == 0, added.stderr
    assert "2020-01-01 09:00:00 UTC has passed" in added.stderr
    assert "due now" in added.stderr
    future = run(workdir, "publish-pool", "add", content, "--scheduled-at", "2099-01-01 09:00")
    assert future.returncode == 0 and future.stderr == ""
    table = run(workdir, "publish-pool", "list").stdout
    assert "Hello 世界" in table
    listed = json.loads(run(workdir, "publish-pool", "list", "--json").stdout)
    assert [e["title"] for e in listed["items"]] == ["Hello 世界", "Hello 世界"]
    assert listed["items"][0]["content_id"] == int(content)


def test_scheduler_create_asks_again_after_a_wrong_answer(workdir: Path) -> None:
    answers = "nightly\nmining\naccount_check\nhourly\ncron\nevery night\n0 2 * * *\n"
    created = subprocess.run(
        [CONTENTHUB, "scheduler", "create", "--job-tz", "Asia/Shanghai", "--json"],
        cwd=workdir,
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    said = " ".join(created.stderr.split())  # as read, whatever the terminal's width wrapped
    assert "'mining' is not one of publishing, account_check, review_check, cleanup; try" in said
    assert "'hourly' is not one of interval, cron; try again" in said
    assert "'every night' is not a five-field cron expression" in said
    job = json.loads(created.stdout[created.stdout.index("{") :])
    assert job["job_type"] == "account_check" and job["cron"] == "0 2 * * *"
    [listed] = json.loads(run(workdir, "scheduler", "list", "--json").stdout)
    assert listed["id"] == job["id"]


def test_scheduler_create_gives_up_with_one_line_when_input_ends(workdir: Path) -> None:
    created = subprocess.run(
        [CONTENTHUB, "scheduler", "create"],
        cwd=workdir,
        input="nightly\nmining\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 2
    assert "type: missing; pass --type" in created.stderr and "Traceback" not in created.stderr
    assert json.loads(run(workdir, "scheduler", "list", "--json").stdout) == []


def test_scheduler_edit_and_delete(workdir: Path) -> None:
    created = run(
        workdir,
        "scheduler", "create",
        "--name", "publisher",
        "--type", "publishing",
        "--schedule-type", "interval",
        "--interval", "300",
        "--param", "max_items=5",
        "--json",
    )  # fmt: skip
    job_id = str(json.loads(created.stdout)["id"])
    edited = run(
        workdir,
        "scheduler", "edit", job_id,
        "--name", "nightly publisher",
        "--cron", "0 2 * * *",
        "--job-tz", "Asia/Shanghai",
        "--param", "wait_seconds=0",
    )  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    assert "'nightly publisher'" in edited.stdout and "cron '0 2 * * *'" in edited.stdout
    [job] = json.loads(run(workdir, "scheduler", "list", "--json").stdout)
    assert job["name"] == "nightly publisher" and job["schedule_type"] == "cron"
    assert job["interval_seconds"] is None and job["timezone"] == "Asia/Shanghai"
    assert job["params"] == {"max_items": 5, "wait_seconds": 0}
    assert job["next_run"].endswith("T18:00:00+00:00")  # 02:00 in Shanghai

    bad = run(workdir, "scheduler", "edit", job_id, "--param", "max_items=0")
    assert bad.returncode == 2 and "params.max_items: must be from 1" in bad.stderr
    nothing = run(workdir, "scheduler", "edit", job_id)
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr

    assert run(workdir, "scheduler", "trigger", job_id).returncode == 0
    deleted = run(workdir, "scheduler", "delete", job_id)
    assert deleted.returncode == 0 and "deleted" in deleted.stdout
    assert json.loads(run(workdir, "scheduler", "list", "--json").stdout) == []
    gone = run(workdir, "scheduler", "history", job_id)
    assert gone.returncode == 2 and f"scheduled job {job_id} not found" in gone.stderr
    again = run(workdir, "scheduler", "delete", job_id)
    assert again.returncode == 2 and "not found" in again.stderr


def test_stats_prints_each_account_under_its_own_platform(workdir: Path, server) -> None:
    assert run(workdir, "account", "add", "noop", "noop-one").returncode == 0
    for account in ("local-site", "noop-one"):
        published = run(workdir, "publish", "hello.md", "-a", account, "--wait")
        assert published.returncode == 0, published.stderr
    report = json.loads(run(workdir, "stats", "--json").stdout)
    platform_of = {a["account_name"]: a["platform"] for a in report["accounts"]}
    assert len(set(platform_of.values())) == 2
    rows = [line.strip("│ ").split() for line in run(workdir, "stats").stdout.splitlines()]
    lines = [row[0] if row else "" for row in rows]
    for account, platform in platform_of.items():
        assert lines.index(account) == lines.index(platform) + 1, (account, platform, lines)
