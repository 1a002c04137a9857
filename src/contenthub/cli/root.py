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
from collections.abc import Callable
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
    for command in group.commands.values():
        visit(command)
        if getattr(command, "commands", None):
            _walk(command, visit)


class RootGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _walk(self, _checked)

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
