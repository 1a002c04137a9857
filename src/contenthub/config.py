"""One settings object, read from the environment once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contenthub.browser.pool import PoolSettings


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None


def _switch(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"{name} must be on or off (1/0, true/false), got {raw!r}")


def positive_int(name: str, default: int, unit: str = "bytes") -> int:
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
    # Set when database_url is a transaction-mode pooler (pgbouncer): the database itself,
    # for what holds session state (LISTEN, the workers' liveness locks, schema upgrades).
    database_session_url: str | None = None
    lease_seconds: float = 60.0
    # Workers prove they live with a database session lock; a dead one's tasks are rescued in
    # seconds. Off: only the lease finds it (kept as the backstop either way).
    fast_rescue: bool = True
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
    # Request bodies above this are refused with 413 before they are read: twice the 4 MiB an
    # article's body may hold and a little more, so a body whose every character JSON escapes
    # (Chinese text sent as \uXXXX) still fits beside the other fields.
    max_request_bytes: int = 9 * 1024 * 1024
    # Folders the ``local`` platform may write under (CONTENTHUB_LOCAL_ROOTS, ``:``-separated);
    # empty: each user's own <data_dir>/sites/<user name>/.
    local_roots: tuple[Path, ...] = field(default_factory=tuple)
    # The worker's browser (Toutiao, Zhihu's browser mode): open pages at most (more publishes
    # wait for one), how long an account's context stays warm unused, how long one page step
    # may take, and how long the browser has to answer its health check.
    browser_pages: int = 4
    browser_renderers: int = 4
    browser_idle_seconds: float = 300.0
    browser_step_timeout_seconds: float = 30.0
    browser_health_timeout_seconds: float = 10.0
    # The old TOP_N endpoints (/api/publish_zhihu …) answered as they were, over the same
    # services (api/routers/compat.py). Off: nothing answers at those paths.
    compat_api: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("CONTENTHUB_DATA_DIR") or Path.cwd() / "data")
        url = os.environ.get("CONTENTHUB_DATABASE_URL") or f"sqlite:///{data_dir / 'contenthub.db'}"
        modules = os.environ.get("CONTENTHUB_PLATFORM_MODULES", "")
        allow = os.environ.get("CONTENTHUB_OUTBOUND_ALLOW", "")
        return cls(
            database_url=url,
            data_dir=data_dir,
            database_session_url=os.environ.get("CONTENTHUB_DATABASE_SESSION_URL") or None,
            lease_seconds=_float("CONTENTHUB_LEASE_SECONDS", 60.0),
            fast_rescue=_switch("CONTENTHUB_FAST_RESCUE", True),
            poll_seconds=_float("CONTENTHUB_POLL_SECONDS", 0.5),
            shutdown_grace_seconds=_float("CONTENTHUB_SHUTDOWN_GRACE_SECONDS", 30.0),
            submissions_per_minute=int(_float("CONTENTHUB_SUBMISSIONS_PER_MINUTE", 20)),
            events_poll_seconds=_float("CONTENTHUB_EVENTS_POLL_SECONDS", 0.25),
            events_queue=positive_int("CONTENTHUB_EVENTS_QUEUE", 1000, unit="events"),
            extra_platform_modules=tuple(m.strip() for m in modules.split(",") if m.strip()),
            outbound_allow=tuple(a.strip() for a in allow.split(",") if a.strip()),
            max_request_bytes=positive_int("CONTENTHUB_MAX_REQUEST_BYTES", 9 * 1024 * 1024),
            local_roots=_folders("CONTENTHUB_LOCAL_ROOTS"),
            browser_pages=positive_int("CONTENTHUB_BROWSER_PAGES", 4, unit="pages"),
            browser_renderers=positive_int("CONTENTHUB_BROWSER_RENDERERS", 4, unit="processes"),
            browser_idle_seconds=_float("CONTENTHUB_BROWSER_IDLE_SECONDS", 300.0),
            browser_step_timeout_seconds=_float("CONTENTHUB_BROWSER_STEP_TIMEOUT_SECONDS", 30.0),
            browser_health_timeout_seconds=_float(
                "CONTENTHUB_BROWSER_HEALTH_TIMEOUT_SECONDS", 10.0
            ),
            compat_api=_switch("CONTENTHUB_COMPAT_API", False),
        )

    def browser_pool(self) -> PoolSettings:
        """The worker's browser pool settings (screenshots and pool figures under data_dir)."""
        from contenthub.browser.artifacts import artifacts_root
        from contenthub.browser.pool import PoolSettings, figures_folder

        return PoolSettings(
            max_pages=self.browser_pages,
            renderer_processes=self.browser_renderers,
            idle_seconds=self.browser_idle_seconds,
            step_timeout_seconds=self.browser_step_timeout_seconds,
            health_timeout_seconds=self.browser_health_timeout_seconds,
            artifacts_dir=artifacts_root(self.data_dir),
            figures_dir=figures_folder(self.data_dir),
        )
