"""Every ``contenthub`` command, found from the Typer app itself, run with hostile arguments on
all three databases: never a traceback, exit code 0, 1 or 2 with a message, and a command that
fails writes nothing.

In-process through Typer's runner (the same root group, parsing, services and storage a
terminal reaches; only the process is shared), so hundreds of runs fit in seconds.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer.main
import typer.testing
from typer.testing import CliRunner

from contenthub.cli import app
from contenthub.storage.db import Database
from tests.conftest import TABLES

# Commands that start servers or workers and run until stopped.
LONG_RUNNING = {"serve", "sandbox", "api", "worker"}
HOSTILE = [
    "\x00",
    "a\x1b[31mb",
    "9" * 11,  # beyond 32 bits
    "-" + "9" * 20,
    "t" * 600,
    "标题😀\u202e' OR 1=1 --",
    "[/red]",  # echoed in an error message, read as markup it would raise
]
# Fewer for options: every option of every command, each alone.
HOSTILE_OPTION = ["a\x00b", "9" * 11, "x" * 600]
BENIGN = "424242"  # an id and a name nothing has


def leaf_commands() -> Iterator[tuple[list[str], Any]]:
    def walk(group: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        for name, command in sorted(group.commands.items()):
            if getattr(command, "commands", None):
                yield from walk(command, [*path, name])
            elif name not in LONG_RUNNING:
                yield [*path, name], command

    yield from walk(typer.main.get_command(app), [])


def command_line(
    path: list[str], command: Any, argument: str, option: Any = None, value: str = ""
) -> list[str]:
    """``path`` with every argument ``argument``, required options benign, ``option`` set."""
    words = [*path]
    for needed in command.params:
        if needed.param_type_name == "option" and needed.required and needed is not option:
            words += [needed.opts[0], BENIGN]
    if option is not None:
        words += [max(option.opts, key=len), value]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    return [*words, "--", *[argument for _ in arguments]] if arguments else words


def invocations() -> Iterator[list[str]]:
    for path, command in leaf_commands():
        options = [
            p
            for p in command.params
            if p.param_type_name == "option" and not p.is_flag and p.name != "user"
        ]
        for hostile in HOSTILE:
            yield command_line(path, command, hostile)
        for option in options:
            for hostile in HOSTILE_OPTION:
                yield command_line(path, command, BENIGN, option, hostile)


# Every table's row count in one statement: asked before each of hundreds of runs.
COUNT_EVERY_TABLE = sa.text(
    "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {t}) AS {t}" for t in TABLES)
)


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return dict(conn.execute(COUNT_EVERY_TABLE).mappings().one())


@pytest.fixture
def cli_env(db: Database, tmp_path: Path) -> dict[str, str]:
    return {
        "CONTENTHUB_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "CONTENTHUB_DATA_DIR": str(tmp_path),
        "CONTENTHUB_USER": "local",
        "COLUMNS": "200",
    }


def test_every_command_refuses_hostile_arguments_cleanly(
    db: Database, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Typer builds the click commands from the app on every run (80 % of a run's time): the
    # runner gets them built once, exactly as ``contenthub`` builds them.
    built = typer.main.get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _: built)
    runner = CliRunner()
    # The default user is made on first use: make it now, so later counts compare like with like.
    assert runner.invoke(app, ["article", "list"], env=cli_env).exit_code == 0
    runs = list(invocations())
    assert len(runs) > 250, "every command, with every hostile argument and option"
    problems = []
    for n, words in enumerate(runs):
        before = row_counts(db)
        result = runner.invoke(app, words, env=cli_env, input="")
        shown = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problems.append(f"{words!r}: raised {result.exception!r}")
        elif "Traceback" in shown or result.exit_code not in (0, 1, 2):
            problems.append(f"{words!r}: exit {result.exit_code}\n{shown[-600:]}")
        elif result.exit_code != 0 and not shown.strip():
            problems.append(f"{words!r}: exit {result.exit_code} without a message")
        elif result.exit_code != 0 and row_counts(db) != before:
            problems.append(f"{words!r}: failed but wrote {row_counts(db)} (was {before})")
        if n % 25 == 0:
            gc.collect()  # each run's engine: closed now, not when the server runs out
    assert not problems, "\n".join(problems[:20])
