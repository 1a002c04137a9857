"""One settings object, read from the environment once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None


def _positive_int(name: str, default: int, unit: str = "bytes") -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a whole number of {unit} above 0, got {raw!r}")
    return int(raw)


def _folders(name: str) -> tuple[Path, ...]:
    """Absolute folders separated by ``:``."""
    folders = tuple(Path(p) for p in os.environ.get(name, "").split(":") if p.strip())
    for folder in folders:
        if not folder.is_absolute():
            raise SystemExit(f"{name} must list absolute folders separated by ':', got {folder}")
    return folders


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    lease_seconds: float = 60.0
    poll_seconds: float = 0.5
    shutdown_grace_seconds: float = 30.0
    submissions_per_minute: int = 20
    # The event hub: how often it reads new events where there is no LISTEN (SQLite, MariaDB),
    # and how many events a stream may have waiting before it is dropped (to resume).
    events_poll_seconds: float = 0.25
    events_queue: int = 1000
    extra_platform_modules: tuple[str, ...] = field(default_factory=tuple)
    # Hosts, host:port, addresses or CIDR networks that outbound requests may reach although
    # they are not public (loopback, LAN …): the platform sandbox, a WordPress on the LAN.
    outbound_allow: tuple[str, ...] = field(default_factory=tuple)
    # Request bodies above this are refused with 413 before they are read: a little above the
    # 20 MiB an article's body may hold, leaving room for JSON escaping and the other fields.
    max_request_bytes: int = 24 * 1024 * 1024
    # Folders the ``local`` platform may write under (CONTENTHUB_LOCAL_ROOTS, ``:``-separated);
    # empty: each user's own <data_dir>/sites/<user name>/.
    local_roots: tuple[Path, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("CONTENTHUB_DATA_DIR") or Path.cwd() / "data")
        url = os.environ.get("CONTENTHUB_DATABASE_URL") or f"sqlite:///{data_dir / 'contenthub.db'}"
        modules = os.environ.get("CONTENTHUB_PLATFORM_MODULES", "")
        allow = os.environ.get("CONTENTHUB_OUTBOUND_ALLOW", "")
        return cls(
            database_url=url,
            data_dir=data_dir,
            lease_seconds=_float("CONTENTHUB_LEASE_SECONDS", 60.0),
            poll_seconds=_float("CONTENTHUB_POLL_SECONDS", 0.5),
            shutdown_grace_seconds=_float("CONTENTHUB_SHUTDOWN_GRACE_SECONDS", 30.0),
            submissions_per_minute=int(_float("CONTENTHUB_SUBMISSIONS_PER_MINUTE", 20)),
            events_poll_seconds=_float("CONTENTHUB_EVENTS_POLL_SECONDS", 0.25),
            events_queue=_positive_int("CONTENTHUB_EVENTS_QUEUE", 1000, "events"),
            extra_platform_modules=tuple(m.strip() for m in modules.split(",") if m.strip()),
            outbound_allow=tuple(a.strip() for a in allow.split(",") if a.strip()),
            max_request_bytes=_positive_int("CONTENTHUB_MAX_REQUEST_BYTES", 24 * 1024 * 1024),
            local_roots=_folders("CONTENTHUB_LOCAL_ROOTS"),
        )
