"""Demo accounts: one per simulated platform, with the credentials the sandbox accepts from the
moment it starts (they are derived from the account name, so no server is needed to list them)."""

from __future__ import annotations

from typing import Any

from contenthub.sandbox.server import DEMO_ACCOUNT_NAME, PLATFORMS, account_description

# dev.to allows 9 article creations per 30 s per account: pace its accounts below that.
MIN_INTERVAL_SECONDS = {"devto": 3.4}


def demo_accounts(base_url: str) -> list[dict[str, Any]]:
    """``[{platform, name, options, credentials, min_interval_seconds}]`` for a sandbox at
    ``base_url`` (e.g. ``http://127.0.0.1:8900``)."""
    return [
        {
            **account_description(base_url, platform, DEMO_ACCOUNT_NAME),
            "name": f"{platform}-demo",
            "min_interval_seconds": MIN_INTERVAL_SECONDS.get(platform, 0.0),
        }
        for platform in PLATFORMS
    ]
