"""The dashboard end to end in headless Chromium: a person signs in, writes an article, binds
sandbox accounts, publishes, and watches the tasks live; cancels, retries, re-logs in; another
user sees none of it; CSRF, expired sessions and hostile input are refused without a 5xx."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from harness import wait_until
from playwright.sync_api import Page, expect

from contenthub import storage
from contenthub.clock import utcnow
from tests.browser.conftest import PASSWORD, Stack

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def alice(stack: Stack) -> dict[str, Any]:
    """The first user, signed in once for the module's tests, with her sandbox accounts."""
    name = stack.user()
    page = stack.page()
    stack.sign_in(page, name)
    return {"name": name, "page": page, "accounts": {}}


def test_sign_in_asks_for_a_password_and_returns_to_the_page(stack: Stack) -> None:
    name = stack.user()
    page = stack.page()
    page.goto("/articles")
    expect(page).to_have_url(re.compile(r"/login\?next=/articles"))
    stack.shoot(page, "login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    stack.shoot(page, "login-failed")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/articles$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "chub_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_language_follows_the_browser_and_the_switch_is_remembered(stack: Stack) -> None:
    name = stack.user()
    page = stack.page(locale="zh-CN")
    page.goto("/login")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="任务监控")).to_be_visible()
    page.locator("#lang-switch").click()
    expect(page.get_by_role("heading", name="Task monitor")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Task monitor")).to_be_visible()
    page.locator("#lang-switch").click()
    expect(page.get_by_role("heading", name="任务监控")).to_be_visible()
    stack.shoot(page, "tasks-empty-zh")


# -- helpers ------------------------------------------------------------------------------


def bind(stack: Stack, page: Page, platform: str) -> dict[str, Any]:
    """Bind a new sandbox account of ``platform`` through the accounts page."""
    name = f"{platform}-{uuid.uuid4().hex[:6]}"
    sandbox_account = stack.sandbox.account(platform, name)
    page.goto("/accounts")
    page.get_by_label("Platform", exact=True).select_option(platform)
    base_url = page.locator("#f-options-base_url")
    expect(base_url).to_be_visible()
    page.get_by_label("Account name").fill(name)
    credentials = sandbox_account["credentials"]
    if "cookies" in credentials:
        page.locator("#f-credentials-cookies").fill(json.dumps(credentials["cookies"]))
    else:
        for key, value in credentials.items():
            page.locator(f"#f-credentials-{key}").fill(str(value))
    base_url.fill(sandbox_account["options"]["base_url"])
    page.locator("#bind-submit").click()
    expect(page.get_by_role("status").first).to_contain_text("Account bound")
    account_id = next(
        a.id
        for a in stack.db.read(lambda s: storage.account_list(s, user_id=None))
        if a.name == name
    )
    return {"id": account_id, "name": name, "sandbox": sandbox_account}


def new_article(page: Page, title: str) -> int:
    page.goto("/articles/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Body (Markdown)").fill(
        "Hello **world**, a body long enough for every platform's summary rules to hold.\n\n"
        "- one\n- two\n\n```python\nprint('hi')\n```\n"
    )
    expect(page.locator("#preview strong")).to_have_text("world")  # the live preview
    page.get_by_label("Tags (comma separated)").fill("python, 测试")
    page.locator("#save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    return int(page.url.split("/articles/")[1].split("?")[0])


def publish(page: Page, article_id: int, accounts: list[dict[str, Any]]) -> None:
    page.goto(f"/articles/{article_id}")
    page.locator("#open-publish").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    for account in accounts:
        dialog.get_by_label(account["name"]).check()
    dialog.locator("#publish-submit").click()
    page.wait_for_url(re.compile(r"/tasks"))


def task_ids(stack: Stack, account: dict[str, Any]) -> list[str]:
    rows = stack.db.read(
        lambda s: storage.task_list(
            s, user_id=None, where=storage.TaskFilter(account_id=account["id"])
        )
    )
    return [r["public_id"] for r in rows]


def row(page: Page, task_id: str):  # noqa: ANN201 - a Playwright locator
    return page.locator(f"#task-{task_id}")


# -- the user's path ------------------------------------------------------------------------


def test_publish_to_two_accounts_and_watch_both_live(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    devto = bind(stack, page, "devto")
    zhihu = bind(stack, page, "zhihu")
    alice["accounts"] = {"devto": devto, "zhihu": zhihu}
    stack.shoot(page, "accounts")
    article_id = new_article(page, "Live 直播 article")
    alice["article"] = article_id
    stack.shoot(page, "article-editor")
    # Slow platforms, so the tasks are still on their way when the monitor opens.
    for platform, account in (("devto", devto), ("zhihu", zhihu)):
        stack.sandbox.client.add_fault(
            platform, "latency", account=account["name"], min_ms=700, max_ms=700
        )
    page.goto(f"/articles/{article_id}")
    page.locator("#open-publish").click()
    stack.shoot(page, "publish-dialog")
    page.keyboard.press("Escape")  # the dialog closes from the keyboard
    expect(page.get_by_role("dialog")).to_be_hidden()
    publish(page, article_id, [devto, zhihu])
    expect(page).to_have_url(re.compile(r"/tasks\?batch="))
    page.evaluate("window.__notReloaded = true")
    ids = task_ids(stack, devto) + task_ids(stack, zhihu)
    assert len(ids) == 2
    statuses = [row(page, i).get_attribute("data-status") for i in ids]
    assert "succeeded" not in statuses, "the tasks must still run when the page opens"
    expect(page.locator("#live")).not_to_have_class(re.compile("off"))
    for task_id in ids:
        expect(row(page, task_id)).to_have_attribute("data-status", "succeeded", timeout=30_000)
        link = row(page, task_id).locator("[data-role=link]")
        expect(link).to_have_attribute("href", re.compile(r"^http://127\.0\.0\.1"))
        expect(row(page, task_id).locator("progress")).to_have_attribute("value", "100")
    assert page.evaluate("window.__notReloaded") is True
    stack.sandbox.client.clear_faults()
    stack.shoot(page, "tasks-batch")
    page.goto(f"/tasks/{ids[0]}")
    expect(page.locator("#result-link")).to_be_visible()
    expect(page.locator(".timeline li").first).to_be_visible()
    stack.shoot(page, "task-detail")


def test_cancel_a_running_task(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    devto = alice["accounts"]["devto"]
    stack.sandbox.client.add_fault(
        "devto", "latency", account=devto["name"], min_ms=1500, max_ms=1500
    )
    before = set(task_ids(stack, devto))
    publish(page, alice["article"], [devto])
    (task_id,) = set(task_ids(stack, devto)) - before
    page.goto("/tasks")
    target = row(page, task_id)
    expect(target).to_have_attribute("data-status", "running", timeout=20_000)
    target.get_by_role("button", name=re.compile("^Cancel")).click()
    expect(target).to_have_attribute("data-status", "cancelled", timeout=30_000)
    stack.sandbox.client.clear_faults()


def test_retry_a_failed_task(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    devto = alice["accounts"]["devto"]
    stack.sandbox.client.add_fault("devto", "reject", account=devto["name"], times=1)
    before = set(task_ids(stack, devto))
    publish(page, alice["article"], [devto])
    (task_id,) = set(task_ids(stack, devto)) - before
    page.goto("/tasks?status=failed")
    page.goto("/tasks")
    target = row(page, task_id)
    expect(target).to_have_attribute("data-status", "failed", timeout=30_000)
    expect(target.locator("[data-role=error]")).to_contain_text("community rules")
    stack.shoot(page, "tasks-failed")
    target.get_by_role("button", name=re.compile("^Retry")).click()
    expect(target).to_have_attribute("data-status", "succeeded", timeout=30_000)


def test_a_held_account_resumes_after_logging_in_again(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    zhihu = alice["accounts"]["zhihu"]
    stack.sandbox.client.add_fault("zhihu", "login_expired", account=zhihu["name"])
    before = set(task_ids(stack, zhihu))
    publish(page, alice["article"], [zhihu])
    (task_id,) = set(task_ids(stack, zhihu)) - before
    card = page.locator(f"#account-{zhihu['id']}")

    def held() -> bool:
        page.goto("/accounts")
        return "needs-login" in (card.get_attribute("class") or "")

    wait_until(held, timeout=30, what="the account to need a login", every=0.5)
    expect(card).to_contain_text("1 publishes waiting")
    stack.shoot(page, "accounts-needs-login")
    stack.sandbox.client.clear_faults()
    card.locator("textarea[name=cookies]").fill(json.dumps(zhihu["sandbox"]["credentials"]["cookies"]))
    card.get_by_role("button", name="Log in again").click()
    expect(page.locator(f"#account-{zhihu['id']}")).to_contain_text("the account is active")
    page.goto("/tasks")
    expect(row(page, task_id)).to_have_attribute("data-status", "succeeded", timeout=30_000)
