"""``contenthub account …`` and ``contenthub article …`` as a user types them, against the
embedded SQLite default."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance import test_cli
from tests.acceptance.test_cli import NEXT_YEAR

run = test_cli.run
workdir = test_cli.workdir  # the same fixture: a clean directory, the test platform loaded


def ok(workdir: Path, *args: str) -> str:
    result = run(workdir, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(workdir: Path, *args: str) -> str:
    """The command's one error line: exit code 2, no traceback, nothing on stdout."""
    result = run(workdir, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    return line


def listed_accounts(workdir: Path, *args: str) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in json.loads(ok(workdir, "account", "list", "--json", *args))}


def shown_article(workdir: Path, article_id: str) -> dict[str, Any]:
    return json.loads(ok(workdir, "article", "show", article_id, "--json"))


@contextmanager
def write_lock_held(workdir: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock, as a long write would."""
    holder = sqlite3.connect(workdir / "data" / "contenthub.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # Proof the lock is held: a second writer that will not wait is refused.
        other = sqlite3.connect(workdir / "data" / "contenthub.db", timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_read_commands_answer_while_a_writer_holds_the_lock(workdir: Path) -> None:
    added = ok(workdir, "article", "add", "hello.md")
    article_id = added.split()[1]
    with write_lock_held(workdir):
        # A command that wanted the write lock would wait 30 s for it; these must not wait.
        accounts = run(workdir, "account", "list", "--json", timeout=25)
        articles = run(workdir, "article", "list", "--json", timeout=25)
        shown = run(workdir, "article", "show", article_id, timeout=25)
    assert accounts.returncode == 0, accounts.stderr
    assert [a["name"] for a in json.loads(accounts.stdout)] == ["local-site"]
    assert articles.returncode == 0 and json.loads(articles.stdout)["total"] == 1
    assert shown.returncode == 0 and "Hello 世界" in shown.stdout


def test_account_update_changes_what_is_given(workdir: Path) -> None:
    ok(workdir, "account", "add", "noop", "site", "-o", "fail=rejected", "-o", "keep=1")
    ok(workdir, "account", "add", "noop", "other")
    said = ok(
        workdir,
        "account", "update", "site",
        "--name", "blog",
        "-o", "fail=",
        "-o", "root=site-out",
        "--min-interval", "2.5",
        "--daily-cap", "5",
    )  # fmt: skip
    assert "blog" in said and "2.5 s between starts" in said and "at most 5 a day" in said
    blog = listed_accounts(workdir)["blog"]
    assert blog["min_interval_seconds"] == 2.5 and blog["daily_cap"] == 5
    # 'KEY=' removes an option, others stay, and a folder is taken from where you are.
    assert blog["options"] == {"keep": "1", "root": str(workdir / "site-out")}

    ok(workdir, "account", "update", str(blog["id"]), "--no-daily-cap")
    assert listed_accounts(workdir)["blog"]["daily_cap"] is None

    assert "an account named 'other' exists already" in refused(
        workdir, "account", "update", "blog", "--name", "other"
    )
    assert "not both" in refused(
        workdir, "account", "update", "blog", "--daily-cap", "3", "--no-daily-cap"
    )
    assert "daily_cap: must be at least 1" in refused(
        workdir, "account", "update", "blog", "--daily-cap", "0"
    )
    assert "unknown platform 'myspace'" in refused(workdir, "account", "add", "myspace", "x")

    # The default account of its platform (the old API's endpoints publish to it): one at most.
    assert "the default noop account" in ok(workdir, "account", "update", "other", "--default")
    ok(workdir, "account", "update", "blog", "--default")
    defaults = {n: a["is_default"] for n, a in listed_accounts(workdir).items()}
    assert defaults == {"blog": True, "other": False, "local-site": False}


def test_account_delete_is_refused_while_publishes_use_it(workdir: Path) -> None:
    ok(workdir, "account", "add", "noop", "site")
    scheduled = ok(
        workdir, "publish", "hello.md", "-a", "site", "--at", f"{NEXT_YEAR}-01-01 09:00", "--json"
    )
    [task] = json.loads(scheduled)["tasks"]

    line = refused(workdir, "account", "delete", "site")
    assert line == ("error: account: 1 publish task(s) still use this account; cancel them first")
    assert "site" in listed_accounts(workdir)

    ok(workdir, "task", "cancel", task)
    assert "account site deleted" in ok(workdir, "account", "delete", "site")
    assert "site" not in listed_accounts(workdir)
    assert "account site not found" in refused(workdir, "account", "delete", "site")


def test_accounts_of_another_user_cannot_be_changed(workdir: Path) -> None:
    ok(workdir, "user", "create", "ann", "--password", "long enough pw")
    ok(workdir, "account", "add", "noop", "mine")
    mine = listed_accounts(workdir)["mine"]
    for args in (["update", str(mine["id"]), "--name", "x"], ["delete", str(mine["id"])]):
        assert "not found" in refused(workdir, "account", *args, "--user", "ann")
    assert listed_accounts(workdir, "--user", "ann") == {}
    assert listed_accounts(workdir)["mine"]["name"] == "mine"


def test_article_edit_and_delete(workdir: Path) -> None:
    article_id = ok(workdir, "article", "add", "hello.md", "--tag", "a").split()[1]

    said = ok(workdir, "article", "edit", article_id, "--title", "New title", "--tag", "x")
    assert f"article {article_id} updated: New title" in said
    shown = shown_article(workdir, article_id)
    assert (shown["title"], shown["tags"]) == ("New title", ["x"])
    assert shown["body"] == "First **post**.\n"

    (workdir / "v2.md").write_text("# Second 版本\n\nNew body.\n", encoding="utf-8")
    ok(workdir, "article", "edit", article_id, "--file", "v2.md")
    shown = shown_article(workdir, article_id)
    assert (shown["title"], shown["body"], shown["tags"]) == ("Second 版本", "New body.\n", ["x"])

    (workdir / "plain.md").write_text("Only a body.\n", encoding="utf-8")
    ok(workdir, "article", "edit", article_id, "--file", "plain.md")
    shown = shown_article(workdir, article_id)
    assert (shown["title"], shown["body"]) == ("Second 版本", "Only a body.\n")

    ok(workdir, "article", "edit", article_id, "--cover", "https://example.com/c.png")
    assert shown_article(workdir, article_id)["cover"] == "https://example.com/c.png"
    ok(workdir, "article", "edit", article_id, "--cover", "")
    assert shown_article(workdir, article_id)["cover"] is None

    assert "nothing to change" in refused(workdir, "article", "edit", article_id)
    assert "title: must be 1–500 characters" in refused(
        workdir, "article", "edit", article_id, "--title", " "
    )
    assert "missing.md does not exist" in refused(
        workdir, "article", "edit", article_id, "--file", "missing.md"
    )
    assert "article 999 not found" in refused(workdir, "article", "edit", "999", "--title", "x")

    ok(workdir, "user", "create", "ann", "--password", "long enough pw")
    assert "not found" in refused(workdir, "article", "delete", article_id, "--user", "ann")
    assert f"article {article_id} deleted" in ok(workdir, "article", "delete", article_id)
    assert f"article {article_id} not found" in refused(workdir, "article", "show", article_id)
    assert json.loads(ok(workdir, "article", "list", "--json"))["items"] == []
