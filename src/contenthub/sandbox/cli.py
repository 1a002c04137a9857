"""The ``contenthub sandbox`` command; the CLI registers it with ``app.command("sandbox")``."""

from __future__ import annotations

import typer
from rich.console import Console

from contenthub.sandbox import server
from contenthub.sandbox.demo import demo_accounts


def sandbox(
    port: int = typer.Option(8900, help="Port to serve on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; keep it on loopback."),
) -> None:
    """Run the platform sandbox: every supported platform simulated locally, with faults."""
    console = Console()
    base_url = f"http://{host}:{port}"
    console.print(f"[bold]contenthub sandbox[/bold] on {base_url}  (admin: {base_url}/_admin/docs)")
    for account in demo_accounts(base_url):
        console.print(f"  {account['platform']:<10} {account['options']['base_url']}")
    server.run(host=host, port=port)
