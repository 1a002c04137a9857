"""Demo accounts: one per simulated platform, with the credentials the sandbox accepts from the
moment it starts (they are derived from the account name, so no server is needed to list them)."""

from __future__ import annotations

from typing import Any

from contenthub.platforms.registry import publisher_for
from contenthub.sandbox.server import DEMO_ACCOUNT_NAME, PLATFORMS, account_description


def demo_accounts(base_url: str) -> list[dict[str, Any]]:
    """``[{platform, name, options, credentials, min_interval_seconds}]`` for a sandbox at
    ``base_url`` (e.g. ``http://127.0.0.1:8900``)."""
    return [
        {
            **account_description(base_url, platform, DEMO_ACCOUNT_NAME),
            "name": f"{platform}-demo",
            # Paced as the platform needs (dev.to: 9 creations per 30 s).
            "min_interval_seconds": publisher_for(platform).min_interval_seconds,
        }
        for platform in PLATFORMS
    ]
