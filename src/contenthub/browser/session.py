"""What an adapter uses to publish through a page: the account's page from the process's pool,
wrapped in :class:`PageSteps`; and the hook that hands the context's cookies back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from contenthub.browser import pool as browser_pool
from contenthub.browser.steps import PageSteps


def storage_state_of(credentials: Mapping[str, Any]) -> dict[str, Any] | None:
    """The account's Playwright storage state (the one session shape): ``storage_state``, or
    a cookie map on the platform's page as a fallback for older accounts."""
    state = credentials.get("storage_state")
    return dict(state) if isinstance(state, Mapping) else None


@contextlib.asynccontextmanager
async def browser_steps(
    platform: str, label: str, account: Any, *, task_id: str | None
) -> AsyncIterator[PageSteps]:
    """A page in ``account``'s context (``account``: a ``base.AccountAccess``), closed on the
    way out; screenshots of failed steps go to the task's artifacts."""
    pool = browser_pool.shared_pool()
    state = storage_state_of(account.credentials)
    async with pool.page(platform, account.name, state) as page:
        yield PageSteps(
            page,
            platform=label,
            task_id=task_id or "login-check",
            artifacts=pool.settings.artifacts_dir if task_id else None,
            timeout_seconds=pool.settings.step_timeout_seconds,
        )


async def hand_back_storage_state(ctx: Any, steps: PageSteps) -> None:
    """Give the context's cookies and local storage, as the platform left them, to whoever
    saves refreshed sessions (sealed, into the account's credentials): the publish context's
    ``save_storage_state`` when the worker provides one. [hook: wired to the credentials
    service at merge]"""
    saver = getattr(ctx, "save_storage_state", None)
    if saver is None:
        return
    state = await steps.page.context.storage_state()
    await saver(dict(state))
