"""The one clock: aware UTC now. Every storage and service operation takes ``now`` as a
parameter, so tests own time; only the edges (a request, a command, a loop tick) read it.
And the one way a time a person types is read: in their zone, kept in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contenthub.errors import InputError


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str, *, zone: tzinfo) -> datetime:
    """ISO 8601 or 'YYYY-MM-DD HH:MM[:SS]'; a time without an offset is in ``zone``."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            "at", f"{text!r} is not a time; use ISO 8601 or 'YYYY-MM-DD HH:MM:SS'"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InputError("at", f"{text!r} is out of range") from None


def zone_named(name: str | None) -> tzinfo:
    if not name:
        return datetime.now().astimezone().tzinfo or UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        raise InputError("timezone", f"unknown time zone {name!r}") from None
