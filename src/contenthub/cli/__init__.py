"""The ``contenthub`` command: one module per command group, each thin over the services;
``root.COMMANDS`` says where each command lives, and a module loads when its command runs."""

from contenthub.cli.root import app

__all__ = ["app"]
