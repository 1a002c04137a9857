"""The root ``contenthub`` command that every group hangs from, and the one place that turns
what a command cannot do into one line on stderr and exit code 2.

Every command's arguments are checked here before it runs, whatever their names: whole
numbers must fit the 32 bits every database stores (ids above all), text and paths may not
hold NUL or other control characters. What still goes wrong — bad input found deeper, a
missing resource, the database refusing a statement — is caught here too, never shown as a
traceback.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import PurePath
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from contenthub.errors import CONTROL_CHARACTERS, Forbidden, InputError, NotFound, SubmissionLimit
from contenthub.storage.db import refusal

INT32 = (-(2**31), 2**31 - 1)
_stderr = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the returned exit (code 2)."""
    # Escaped: the message may quote what the user typed, which may look like markup ("[/x]").
    _stderr.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


# Typer carries its own copy of click, so commands and parameters are handled by what they
# have (``commands``, ``params``, ``opts``), not by class.


def _name(param: Any) -> str:
    if getattr(param, "param_type_name", "") == "option" and param.opts:
        return str(max(param.opts, key=len))
    return str(param.name or "argument").upper()


def _check(param: Any, value: Any) -> None:
    values = value if isinstance(value, list | tuple) else [value]
    for one in values:
        if isinstance(one, bool):
            continue
        if isinstance(one, int) and not INT32[0] <= one <= INT32[1]:
            raise InputError(_name(param), f"{one} is out of range (at most {INT32[1]})")
        if isinstance(one, str | PurePath) and CONTROL_CHARACTERS.search(str(one)):
            raise InputError(_name(param), "must not contain NUL or other control characters")


def _checked(command: Any) -> None:
    callback = command.callback
    if callback is None or getattr(callback, "_contenthub_checked", False):
        return
    params = {p.name: p for p in command.params}

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            if name in params:
                _check(params[name], value)
        return callback(*args, **kwargs)

    run._contenthub_checked = True  # type: ignore[attr-defined]
    command.callback = run


def _walk(group: Any, visit: Callable[[Any], None]) -> None:
    for command in getattr(group, "commands", {}).values():
        visit(command)
        _walk(command, visit)


# Every command under the root, in the order help lists them: (module, its Typer, the name
# there). A command's module is imported when the command is run or listed, so `contenthub
# task list` imports what listing tasks needs, not the worker, the API and every adapter.
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "doctor": ("contenthub.cli.doctor", "commands", "doctor"),
    "platforms": ("contenthub.cli.platforms", "commands", "platforms"),
    "serve": ("contenthub.cli.processes", "commands", "serve"),
    "sandbox": ("contenthub.cli.processes", "commands", "sandbox"),
    "api": ("contenthub.cli.processes", "commands", "api"),
    "worker": ("contenthub.cli.processes", "commands", "worker"),
    "publish": ("contenthub.cli.publishing", "commands", "publish"),
    "stats": ("contenthub.cli.stats", "commands", "stats"),
    # A group: the whole Typer.
    "db": ("contenthub.cli.processes", "db_app", None),
    "task": ("contenthub.cli.tasks", "app", None),
    "account": ("contenthub.cli.accounts", "app", None),
    "platform": ("contenthub.cli.platforms", "app", None),
    "user": ("contenthub.cli.users", "app", None),
    "article": ("contenthub.cli.articles", "app", None),
    "publish-pool": ("contenthub.cli.pool", "app", None),
    "scheduler": ("contenthub.cli.scheduler", "app", None),
    "secrets": ("contenthub.cli.secrets", "app", None),
}


def _load(name: str) -> Any:
    module, attribute, inner = COMMANDS[name]
    group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
    command = group if inner is None else group.commands[inner]
    command.name = name
    _checked(command)
    _walk(command, _checked)
    return command


class _Commands(MutableMapping[str, Any]):
    """The root's commands by name, each built when first looked up (click and typer only
    ever use a group's commands as a mapping)."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _load(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(name not in COMMANDS for name in self._built)


class RootGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Commands()

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names alone: nothing is imported to list them

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Every word of the command line, before any command parses (or opens) it: a path
        with NUL would otherwise fail inside the parser, before a command could say so."""
        for word in args:
            if CONTROL_CHARACTERS.search(word):
                raise fail(f"{word!r} contains NUL or another control character")
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as error:
            raise fail(f"{error.field}: {error.message}") from None
        except (NotFound, SubmissionLimit, Forbidden) as error:
            raise fail(str(error)) from None
        except Exception as error:
            reason = refusal(error)
            if reason is None:
                raise
            raise fail(f"the database refused this: {reason}") from None


app = typer.Typer(
    cls=RootGroup,
    help="Publish articles to many platforms, reliably.",
    no_args_is_help=True,
)


@app.callback()
def _root() -> None:
    # A callback makes the root a group while every command is still to be loaded.
    pass
