"""The ``contenthub`` command: one module per command group, each thin over the services."""

from contenthub.cli import (
    accounts,
    articles,
    doctor,
    platforms,
    pool,
    processes,
    publishing,
    scheduler,
    secrets,
    stats,
    tasks,
    users,
)
from contenthub.cli.root import app

app.add_typer(processes.db_app, name="db")
app.add_typer(tasks.app, name="task")
app.add_typer(accounts.app, name="account")
app.add_typer(platforms.app, name="platform")
app.add_typer(users.app, name="user")
app.add_typer(articles.app, name="article")
app.add_typer(pool.app, name="publish-pool")
app.add_typer(scheduler.app, name="scheduler")
app.add_typer(secrets.app, name="secrets")

__all__ = ["app", "doctor", "publishing", "stats"]
