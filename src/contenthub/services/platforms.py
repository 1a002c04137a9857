"""Platforms: which exist, and the settings every worker shares."""

from __future__ import annotations

from typing import Any

from contenthub import storage
from contenthub.errors import InputError
from contenthub.platforms.base import offers
from contenthub.platforms.registry import known_platforms, publisher_for
from contenthub.storage import Session


def check_platform(platform: str) -> None:
    if platform not in known_platforms():
        raise InputError(
            "platform", f"unknown platform {platform!r}; known: " + ", ".join(known_platforms())
        )


def platform_limit_set(session: Session, name: str, max_running: int | None) -> None:
    """How many publishes may run at once on a platform, across every worker."""
    if max_running is not None and max_running < 1:
        raise InputError("max_running", "must be at least 1")
    storage.platform_set_limit(session, name, max_running)


def platform_limits(session: Session) -> dict[str, int | None]:
    """Every known platform and its limit (None: none)."""
    stored = storage.platform_limits(session)
    return {name: stored.get(name) for name in known_platforms()}


FEATURES = ("images", "cover", "tags", "scheduled", "review")


def platform_catalogue() -> list[dict[str, Any]]:
    """Every platform this process can publish to, with what its adapter declares
    (``Publisher.features``: how an account logs in, scheduling, review; ``requires``: images,
    cover, tags). A plugin that declares no features is listed with ``None`` for those."""
    rows = []
    for name in known_platforms():
        publisher = publisher_for(name)
        features = publisher.features
        row: dict[str, Any] = {"platform": name, "login": features.login if features else None}
        row.update(offers(publisher.requires))
        row.update({k: getattr(features, k) if features else None for k in ("scheduled", "review")})
        row["note"] = features.note if features else ""
        rows.append(row)
    return rows
