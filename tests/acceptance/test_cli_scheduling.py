"""``contenthub publish-pool …``, ``contenthub scheduler …`` and ``contenthub stats`` as a user
types them, against the embedded SQLite default."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from harness import CONTENTHUB

from tests.acceptance import test_cli

run = test_cli.run
workdir = test_cli.workdir  # the same fixture: a clean directory, the test platform loaded


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
