"""The root ``contenthub`` command that every group hangs from."""

import typer

app = typer.Typer(help="Publish articles to many platforms, reliably.", no_args_is_help=True)
