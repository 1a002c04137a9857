"""What an adapter uses to publish through a page: the account's page from the process's pool,
wrapped in :class:`PageSteps`; and the hook that hands the context's cookies back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from contenthub.browser import pool as browser_pool
from contenthub.browser.steps import PageSteps
from contenthub.platforms import session


@contextlib.asynccontextmanager
async def browser_steps(
    platform: str, label: str, account: Any, *, task_id: str | None, cookie_domain: str
) -> AsyncIterator[PageSteps]:
    """A page in ``account``'s context (``account``: a ``base.AccountAccess``), logged in with
    its stored session (cookies of ``cookie_domain``), closed on the way out; screenshots of
    failed steps go to the task's artifacts."""
    pool = browser_pool.shared_pool()
    stored = session.state_of(account.credentials, cookie_domain)
    state = session.for_site(stored, account.options).model_dump(mode="json")
    async with pool.page(platform, account.name, state if state["cookies"] else None) as page:
        yield PageSteps(
            page,
            platform=label,
            task_id=task_id or "login-check",
            artifacts=pool.settings.artifacts_dir if task_id else None,
            timeout_seconds=pool.settings.step_timeout_seconds,
        )


async def hand_back_storage_state(account: Any, steps: PageSteps, cookie_domain: str) -> None:
    """Save the session as the platform left it in the page's context (cookies it set or
    refreshed), sealed into the account's credentials, when it changed."""
    if account.save_session is None:
        return
    held = session.StorageState.model_validate(await steps.page.context.storage_state())
    now = session.from_site(held, account.options, cookie_domain)
    if not session.same_cookies(now, session.state_of(account.credentials, cookie_domain)):
        await session.save_state(now, account.save_session)
        # The account's next publish asks for this session: the context holding it stays warm.
        stored = session.state_of({"storage_state": now.without_expired()}, cookie_domain)
        held_now = session.for_site(stored, account.options).model_dump(mode="json")
        browser_pool.shared_pool().holds_state(steps.page.context, held_now)
