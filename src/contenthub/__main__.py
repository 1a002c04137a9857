"""``python -m contenthub``: what a supervisor runs for each of its processes."""

from contenthub.cli import app

app(prog_name="contenthub")
