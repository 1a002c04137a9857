"""The one clock: aware UTC now. Every storage and service operation takes ``now`` as a
parameter, so tests own time; only the edges (a request, a command, a loop tick) read it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
