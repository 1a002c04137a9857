"""``contenthub doctor``: one line per finding; exit code 1 when something needs fixing."""

from __future__ import annotations

import typer
from rich.markup import escape

from contenthub.cli.context import out
from contenthub.services import doctor as checks

commands = typer.Typer()  # `contenthub doctor`, at the root


@commands.command()
def doctor(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the problems."),
) -> None:
    """Check the configuration, database, secret key, Chromium and logins; say what to fix.

    The database is checked with its schema, and every account's login with its platform."""
    found = checks.run_all()
    problems = [f for f in found if not f.ok]
    for finding in found:
        if finding.ok and quiet:
            continue
        mark = "[green]ok[/green]     " if finding.ok else "[red]problem[/red]"
        out.print(
            f"{mark} {escape(finding.topic)}: {escape(finding.text)}",
            highlight=False,
            soft_wrap=True,
        )
    if problems:
        out.print(f"{len(problems)} problem(s) to fix", highlight=False)
        raise typer.Exit(1)
    out.print("nothing to fix", highlight=False)
