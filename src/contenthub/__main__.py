"""``python -m contenthub``: the CLI; what a supervisor execs for a process it cannot fork."""

from contenthub.cli import app

app(prog_name="contenthub")
