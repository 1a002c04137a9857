"""What `contenthub … --help` shows: each command's summary reads as one line in its group's
list, and no paragraph is cut mid-sentence where the source wrapped it (Typer keeps those
line breaks)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer.main

from contenthub.cli.root import app

# A line that ends mid-sentence: not after a full stop, a colon or a semicolon.
MID_SENTENCE = re.compile(r"[^.:;)]\n")


def _commands(command: Any, path: str) -> Iterator[tuple[str, str]]:
    yield path, command.help or ""
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, f"{path} {name}")


def test_every_commands_help_reads_in_whole_lines() -> None:
    found = list(_commands(typer.main.get_command(app), "contenthub"))
    assert len(found) > 40  # every group and its commands were walked
    broken = [
        path
        for path, text in found
        if "\n" in text.strip().split("\n\n")[0]
        or any(MID_SENTENCE.search(p.strip() + "\n") for p in text.split("\n\n")[1:])
    ]
    assert broken == []
