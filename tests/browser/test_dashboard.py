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
from playwright.sync_api import Locator, Page, expect

from contenthub import storage
from contenthub.clock import utcnow
from contenthub.login import qr
from tests.browser.conftest import DESKTOP, PASSWORD, PHONE, Stack
from tests.platforms.conftest import png

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
    page.get_by_role("link", name="账号").click()
    expect(page.get_by_role("heading", name="绑定账号")).to_be_visible()
    stack.shoot(page, "accounts-zh")


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
    if "storage_state" in credentials:  # pasted as the cookies a person copies from a browser
        cookies = {c["name"]: c["value"] for c in credentials["storage_state"]["cookies"]}
        page.locator("#f-credentials-cookies").fill(json.dumps(cookies))
    elif "cookies" in credentials:
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


def publish_one(stack: Stack, page: Page, account: dict[str, Any]) -> str:
    """A new article published to ``account`` (an article is published once per account:
    publishing it there again is refused unless asked for as a republish)."""
    article_id = new_article(page, f"Once {uuid.uuid4().hex[:6]}")
    before = set(task_ids(stack, account))
    publish(page, article_id, [account])
    (task_id,) = set(task_ids(stack, account)) - before
    return task_id


def task_ids(stack: Stack, account: dict[str, Any]) -> list[str]:
    rows = stack.db.read(
        lambda s: storage.task_list(
            s, user_id=None, where=storage.TaskFilter(account_id=account["id"])
        )
    )
    return [r["public_id"] for r in rows]


def row(page: Page, task_id: str) -> Locator:
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
    dialog = page.get_by_role("dialog")
    dialog.locator("#publish-submit").click()  # no account chosen: said beside the field
    expect(dialog.get_by_role("alert")).to_contain_text("name at least one account")
    dialog.get_by_label("At a set time").check()
    dialog.get_by_label(devto["name"]).check()
    dialog.locator("#publish-submit").click()
    expect(dialog.locator("#err-at")).to_be_visible()
    stack.shoot(page, "publish-dialog-errors")
    assert task_ids(stack, devto) == []
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


def test_a_post_held_for_review_shows_in_review(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    juejin = bind(stack, page, "juejin")
    stack.sandbox.client.hold_for_review("juejin", juejin["name"])
    task_id = publish_one(stack, page, juejin)
    page.goto("/tasks")
    expect(row(page, task_id)).to_have_attribute("data-status", "in_review", timeout=30_000)
    expect(row(page, task_id).locator("[data-role=status]")).to_have_text("in review")
    stack.shoot(page, "tasks-in-review")
    page.goto(f"/tasks/{task_id}")
    expect(page.locator(".notice")).to_contain_text("holds it for review")
    expect(page.locator("#result-link")).to_be_visible()  # where it will be
    stack.shoot(page, "task-in-review")


def test_cancel_a_running_task(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    devto = alice["accounts"]["devto"]
    stack.sandbox.client.add_fault(
        "devto", "latency", account=devto["name"], min_ms=1500, max_ms=1500
    )
    task_id = publish_one(stack, page, devto)
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
    task_id = publish_one(stack, page, devto)
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
    task_id = publish_one(stack, page, zhihu)
    card = page.locator(f"#account-{zhihu['id']}")

    def held() -> bool:
        page.goto("/accounts")
        return "needs-login" in (card.get_attribute("class") or "")

    wait_until(held, timeout=30, what="the account to need a login", every=0.5)
    expect(card).to_contain_text("1 waiting to publish")
    stack.shoot(page, "accounts-needs-login")
    stack.sandbox.client.clear_faults()
    card.locator("textarea[name=cookies]").fill(
        json.dumps(zhihu["sandbox"]["credentials"]["cookies"])
    )
    card.get_by_role("button", name="Log in again").click()
    expect(page.locator(f"#account-{zhihu['id']}")).to_contain_text("the account is active")
    page.goto("/tasks")
    expect(row(page, task_id)).to_have_attribute("data-status", "succeeded", timeout=30_000)


def test_the_default_zhihu_account_is_chosen_on_the_accounts_page(stack: Stack) -> None:
    """With two Zhihu accounts, the old API needs to know which one is meant: the person
    says so on the accounts page, and an old front end's publish then goes there."""
    page = stack.page()
    stack.sign_in(page, stack.user())
    first, second = bind(stack, page, "zhihu"), bind(stack, page, "zhihu")
    make_default = "Make default"
    page.goto("/accounts")
    for account in (first, second):
        card = page.locator(f"#account-{account['id']}")
        expect(card.get_by_role("button", name=make_default)).to_be_visible()
    chosen = page.locator(f"#account-{second['id']}")
    chosen.get_by_role("button", name=make_default).click()
    expect(chosen.get_by_role("status")).to_contain_text("Now the default zhihu account")
    expect(chosen.locator(".badge", has_text="default")).to_be_visible()
    expect(chosen.get_by_role("button", name=make_default)).to_have_count(0)
    other = page.locator(f"#account-{first['id']}")
    expect(other.get_by_role("button", name=make_default)).to_be_visible()
    stack.shoot(page, "accounts-default")
    # An old front end, signed in on the dashboard, publishes with no account named.
    answer = page.request.post(
        "/api/publish_zhihu", data={"title": "Old front end", "content": "body", "article_id": 7}
    )
    assert answer.ok, answer.text()
    task = stack.db.read(lambda s: storage.task_get(s, answer.json()["task_id"], user_id=None))
    assert task["account_id"] == second["id"]


def csrf_of(page: Page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value") or ""


def test_settings_create_a_token_shown_once_and_revoke_it(stack: Stack, alice: dict) -> None:
    page: Page = alice["page"]
    page.goto("/settings")
    page.get_by_label("Token name").fill("ci")
    page.get_by_role("button", name="Create a token").click()
    token = page.locator("#new-token").input_value()
    assert token.startswith("chub_")
    stack.shoot(page, "settings-token")
    answer = page.request.get("/api/v1/articles", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    page.goto("/settings")
    expect(page.locator("#new-token")).to_have_count(0)  # shown once only
    page.get_by_role("button", name="Revoke: ci").click()
    expect(page.get_by_text("revoked")).to_be_visible()
    answer = page.request.get("/api/v1/articles", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 401


def test_articles_list_searches_and_pages(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    new_article(page, "Zebra crossing 斑马线")
    page.goto("/articles")
    page.get_by_label("Search titles").fill("zebra")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.articles tbody tr")).to_have_count(1)
    expect(page.locator("table.articles")).to_contain_text("Zebra crossing")
    owner = stack.db.read(lambda s: storage.article_get(s, alice["article"], user_id=None).user_id)
    _, hers = stack.db.read(lambda s: storage.article_list(s, user_id=owner, limit=1, offset=0))
    page.goto("/articles")
    expect(page.locator("table.articles tbody tr")).to_have_count(min(hers, 20))
    stack.shoot(page, "articles")


def test_statistics_chart_what_ended(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    page.goto("/stats")
    for chart in ("chart-days", "chart-platforms"):  # drawn: a bar taller than nothing
        bars = f"[...document.querySelectorAll('#{chart} rect.bar')]"
        page.wait_for_function(f"() => {bars}.some(bar => bar.height.baseVal.value > 0)")
    # The failed task was retried and published: every ended task but the cancelled succeeded.
    expect(page.locator(".kpis")).to_contain_text("100.0%")
    expect(page.locator("table.stack")).to_contain_text("zhihu")
    # Each chart's legend names every colour, and wraps rather than losing one on a phone.
    statuses = ["in review", "succeeded", "failed", "cancelled"]
    page.set_viewport_size(PHONE)
    for chart in ("chart-days", "chart-platforms"):
        items = page.locator(f"#{chart} + .legend li")
        expect(items).to_have_text(statuses)
        cut_off = items.evaluate_all(
            "items => items.filter(i => i.getBoundingClientRect().right > window.innerWidth)"
            ".map(i => i.textContent)"
        )
        assert cut_off == []
    page.set_viewport_size(DESKTOP)
    stack.shoot(page, "stats")


def test_publish_pool_add_reschedule_cancel(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    page.goto("/pool")
    page.get_by_label("Article", exact=True).select_option(str(alice["article"]))
    page.get_by_label("Priority").last.fill("3")
    page.get_by_label("Time in your time zone").last.fill("2099-01-02T09:30")
    page.locator("#pool-add").click()
    entry = page.locator("table.pool tbody tr").first
    expect(entry).to_have_attribute("data-status", "pending")
    expect(page.locator("#count-pending")).to_have_text("1")
    entry.get_by_text("Change").click()
    entry.get_by_label("Priority").fill("9")
    entry.get_by_role("button", name="Save").click()
    expect(page.locator("table.pool tbody tr").first.locator("td").nth(2)).to_have_text("9")
    stack.shoot(page, "pool")
    page.locator("table.pool tbody tr").first.get_by_role(
        "button", name=re.compile("^Cancel")
    ).click()
    expect(page.locator("table.pool tbody tr").first).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#count-cancelled")).to_have_text("1")


def test_scheduled_jobs_preview_run_now_and_history(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    page.goto("/jobs")
    page.get_by_label("Name", exact=True).fill("morning check")
    page.get_by_label("Job type").select_option("account_check")
    page.get_by_role("radio", name="cron").check()
    cron = page.get_by_label("Cron expression (min hour day month weekday)")
    cron.fill("61 * * * *")
    expect(page.locator("#job-preview [role=alert]")).to_contain_text("not a five-field cron")
    cron.fill("0 9 * * 1-5")
    expect(page.locator("#job-preview li")).to_have_count(5)
    stack.shoot(page, "jobs-new")
    page.locator("#job-submit").click()
    job = page.locator("table.jobs tr", has_text="morning check")
    expect(job).to_contain_text("0 9 * * 1-5")
    job.get_by_role("button", name="Run now: morning check").click()
    expect(page.locator("tr.run")).to_have_count(1)
    expect(page.locator("tr.run")).to_contain_text("succeeded")
    stack.shoot(page, "job-history")
    page.goto("/jobs")
    job.get_by_role("button", name="Disable: morning check").click()
    expect(job).to_contain_text("disabled")


def test_a_second_user_sees_none_of_the_first_users_data(stack: Stack, alice: dict) -> None:
    bob = stack.user()
    page = stack.page()
    stack.sign_in(page, bob)
    token = csrf_of(page)
    devto = alice["accounts"]["devto"]
    alice_task = task_ids(stack, devto)[0]
    expect(page.locator("#task-rows tr")).to_have_count(0)
    for path in (
        f"/tasks/{alice_task}",
        f"/tasks/{alice_task}/row",
        f"/articles/{alice['article']}",
    ):
        assert page.goto(path).status == 404, path  # type: ignore[union-attr]
    stack.shoot(page, "not-found")
    paths = (
        "/articles",
        "/accounts",
        "/tasks",
        "/stats",
        "/jobs",
        "/pool",
        f"/tasks?account={devto['id']}",
    )
    for path in paths:
        page.goto(path)
        body = page.locator("main").inner_text()
        assert "Live 直播 article" not in body and devto["name"] not in body, path
    (job,) = stack.db.read(lambda s: storage.job_list(s, scope=None))
    (entry,), _ = stack.db.read(
        lambda s: storage.pool_entry_list(
            s, scope=None, statuses=[], article_id=None, limit=5, offset=0
        )
    )
    assert page.goto(f"/jobs/{job['id']}").status == 404  # type: ignore[union-attr]
    headers = {"X-CSRF-Token": token}
    for path in (
        f"/pool/{entry['id']}/cancel",
        f"/pool/{entry['id']}/reschedule",
        f"/jobs/{job['id']}/run",
        f"/jobs/{job['id']}/enabled",
        f"/tasks/{alice_task}/cancel",
        f"/tasks/{alice_task}/retry",
        f"/articles/{alice['article']}",
        f"/articles/{alice['article']}/publish",
        f"/accounts/{devto['id']}/check",
        f"/accounts/{devto['id']}/pacing",
    ):
        answer = page.request.post(
            path, headers=headers, form={"title": "mine now", "body": "x", "priority": "5"}
        )
        assert answer.status == 404, (path, answer.status)
    assert page.request.get(f"/api/v1/tasks/{alice_task}").status == 404
    # Bob's monitor stays empty while Alice publishes: the stream carries only his own tasks.
    page.goto("/tasks")
    expect(page.locator("#live")).not_to_have_class(re.compile("off"))
    publish_one(stack, alice["page"], devto)  # one task: its own page, live too
    badge = alice["page"].locator("#task-live [data-role=status]")
    expect(badge).to_have_text("succeeded", timeout=30_000)
    expect(page.locator("#task-rows tr")).to_have_count(0)


def test_admin_sees_every_task_makes_users_and_sets_platform_limits(
    stack: Stack, alice: dict[str, Any]
) -> None:
    alice_page: Page = alice["page"]
    alice_page.goto("/tasks")
    token = csrf_of(alice_page)
    assert alice_page.goto("/admin").status == 404  # type: ignore[union-attr]
    forged = alice_page.request.post(
        "/admin/users", form={"name": "mallory", "password": PASSWORD, "admin": "on", "csrf": token}
    )
    assert forged.status == 404
    admin = stack.user(admin=True)
    page = stack.page()
    stack.sign_in(page, admin)
    alice_task = task_ids(stack, alice["accounts"]["devto"])[0]
    expect(row(page, alice_task)).to_be_visible()  # an administrator's monitor has everyone's
    page.get_by_role("link", name="Admin").click()
    page.get_by_label("User name").fill("carol")
    page.get_by_label("Password").fill("short")
    page.locator("#create-user").click()
    expect(page.locator("#err-password")).to_contain_text("at least 8")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#create-user").click()
    expect(page.locator("table.users")).to_contain_text("carol")
    page.get_by_label("zhihu").fill("2")
    page.locator("#save-limits").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.get_by_label("zhihu")).to_have_value("2")
    stack.shoot(page, "admin")
    assert stack.db.read(storage.platform_limits)["zhihu"] == 2


def test_csrf_is_refused_without_the_token(stack: Stack, alice: dict[str, Any]) -> None:
    page: Page = alice["page"]
    count = len(
        stack.db.read(lambda s: storage.article_list(s, user_id=None, limit=500, offset=0))[0]
    )
    form = {"title": "forged", "body": "forged body"}
    assert page.request.post("/articles/new", form=form).status == 403
    assert page.request.post("/articles/new", form={**form, "csrf": "wrong"}).status == 403
    answer = page.request.post("/articles/new", form=form, headers={"X-CSRF-Token": "wrong"})
    assert answer.status == 403
    task_id = task_ids(stack, alice["accounts"]["devto"])[0]
    assert (
        page.request.post(f"/tasks/{task_id}/retry", headers={"HX-Request": "true"}).status == 403
    )
    # The sign-in form too: its token must match the cookie set with the form.
    other = stack.page()
    answer = other.request.post("/login", form={"name": alice["name"], "password": PASSWORD})
    assert answer.status == 403
    after = len(
        stack.db.read(lambda s: storage.article_list(s, user_id=None, limit=500, offset=0))[0]
    )
    assert after == count
    page.goto("/articles")
    assert (
        page.request.post(
            "/articles/new", form={**form, "csrf": csrf_of(page)}, max_redirects=0
        ).status
        == 303
    )


def test_an_expired_session_sends_you_to_sign_in_and_back(stack: Stack) -> None:
    name = stack.user()
    page = stack.page()
    stack.sign_in(page, name)
    page.goto("/accounts")
    user_id = stack.db.read(lambda s: storage.user_by_name(s, name)).id
    for session in stack.db.read(
        lambda s: storage.web_session_list(s, user_id=user_id, now=utcnow())
    ):
        stack.db.write(lambda s, i=session.id: storage.web_session_expire(s, i, at=utcnow()))
    page.get_by_role("link", name="Articles").click()
    expect(page).to_have_url(re.compile(r"/login\?next=/articles"))
    expect(page.get_by_role("status")).to_contain_text("Please sign in again")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/articles$"))
    # Signing out ends the session on the server, not only in this browser.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "chub_session")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.context.add_cookies([{"name": "chub_session", "value": token, "url": stack.base_url}])
    page.goto("/tasks")
    expect(page).to_have_url(re.compile(r"/login\?next=/tasks"))


def test_sign_in_attempts_are_limited_per_user(stack: Stack) -> None:
    name = stack.user()
    page = stack.page()
    page.goto("/login")
    for _ in range(5):
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong user name")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)  # even the right one waits now
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed attempts")


HOSTILE = [
    "",
    " ",
    "\x00",
    "'; DROP TABLE users; --",
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 " * 50,
    "9" * 400,
    "-1",
    "1e309",
    "NaN",
    '{"a":',
    "[1, 2",
    "../../../etc/passwd",
    "x" * 70_000,
]


def test_hostile_input_in_every_form_never_gets_a_5xx(stack: Stack, alice: dict) -> None:
    page: Page = alice["page"]
    page.goto("/tasks")
    csrf = csrf_of(page)
    article, account = alice["article"], alice["accounts"]["devto"]
    task_id = task_ids(stack, account)[0]
    forms: dict[str, list[str]] = {
        "/articles/new": ["title", "body", "tags", "cover"],
        f"/articles/{article}": ["title", "body", "tags", "cover"],
        "/preview": ["body", "platform"],
        f"/articles/{article}/publish": ["account", "when", "at", "tz", "priority"],
        "/accounts": [
            "platform",
            "name",
            "options.base_url",
            "credentials.api_key",
            "min_interval_seconds",
            "daily_cap",
        ],
        f"/accounts/{account['id']}/pacing": ["min_interval_seconds", "daily_cap"],
        f"/accounts/{account['id']}/login": ["cookies"],
        "/settings/tokens": ["name"],
    }
    for path, fields in forms.items():
        for value in HOSTILE:
            form = {name: value for name in fields} | {"csrf": csrf}
            if path == "/accounts":
                form["platform"] = "devto" if value else value
            if path.endswith("/publish"):
                form["when"] = "at"
            answer = page.request.post(path, form=form, max_redirects=0)
            assert answer.status < 500, (path, value[:20], answer.status)
    for value in HOSTILE[:-1]:
        for query in ("status", "platform", "account", "batch", "since", "until", "before", "tz"):
            answer = page.request.get("/tasks", params={query: value})
            assert answer.status < 500, (query, value[:20], answer.status)
        answer = page.request.get("/articles", params={"q": value, "page": value})
        assert answer.status < 500, ("articles", value[:20])
    for path in (
        "/tasks/%00",
        "/tasks/" + "x" * 300,
        "/articles/99999999999",
        "/articles/-1",
        "/articles/abc",
        f"/tasks/{task_id}/nope",
        "/accounts/0/check",
        "/lang/xx?next=//evil",
    ):
        answer = page.request.get(path, max_redirects=0)
        assert answer.status < 500, (path, answer.status)
    answer = page.request.get("/lang/en?next=//evil.example/", max_redirects=0)
    assert answer.headers["location"] == "/tasks"  # never an open redirect


# -- the browser login, screenshots of failed browser steps ----------------------------------


def held_account(stack: Stack, page: Page, platform: str) -> tuple[dict[str, Any], str]:
    """A new account whose platform session expired, with one publish held for it."""
    account = bind(stack, page, platform)
    stack.sandbox.client.expire_sessions(platform, account["name"])
    task_id = publish_one(stack, page, account)
    card = page.locator(f"#account-{account['id']}")

    def held() -> bool:
        page.goto("/accounts")
        return "needs-login" in (card.get_attribute("class") or "")

    wait_until(held, timeout=30, what="the account to need a login", every=0.5)
    return account, task_id


def test_qr_login_on_the_accounts_page_resumes_held_publishes(
    stack: Stack, alice: dict[str, Any]
) -> None:
    page: Page = alice["page"]
    zhihu, task_id = held_account(stack, page, "zhihu")
    base = f"/accounts/{zhihu['id']}/browser-login"
    card = page.locator(f"#account-{zhihu['id']}")
    card.get_by_role("button", name="Log in with QR code").click()
    code = card.locator("img.login-qr")
    expect(code).to_be_visible(timeout=30_000)
    stack.shoot(page, "accounts-qr-login")
    # Nobody else sees the code or can start or watch a login of this account.
    bob = stack.page()
    stack.sign_in(bob, stack.user())
    for path in (base, f"{base}/qr.png", f"{base}/screenshot.png"):
        assert bob.request.get(path).status == 404, path
    answer = bob.request.post(base, headers={"X-CSRF-Token": csrf_of(bob)})
    assert answer.status == 404
    # A phone scans the code the page shows (the page may replace it meanwhile: scan the new one).
    scanned: list[str] = []

    def logged_in() -> bool:
        src = code.get_attribute("src") if code.count() else None
        if src:
            shown = page.request.get(src)
            text = qr.decode(shown.body()) if shown.ok else None
            if text and text not in scanned:
                stack.sandbox.client.scan_qr("zhihu", zhihu["name"], text)
                scanned.append(text)
        return card.locator(".badge").inner_text() == "active"

    wait_until(logged_in, timeout=45, what="the QR login to finish", every=0.5)
    expect(card).to_contain_text("Logged in; the account is active.")
    stack.shoot(page, "accounts-qr-login-done")
    page.goto("/tasks")
    expect(row(page, task_id)).to_have_attribute("data-status", "succeeded", timeout=30_000)


def test_a_captcha_in_a_password_login_shows_the_reason_and_the_screenshot(
    stack: Stack, alice: dict[str, Any]
) -> None:
    page: Page = alice["page"]
    zhihu = bind(stack, page, "zhihu")
    page.goto("/accounts")
    card = page.locator(f"#account-{zhihu['id']}")
    card.locator("summary", has_text="Log in again").click()
    card.get_by_label("zhihu user name").fill(zhihu["name"])
    card.get_by_label("zhihu password").fill(zhihu["sandbox"]["login"]["password"])
    stack.sandbox.client.login_switches("zhihu", captcha=True)
    try:
        card.get_by_role("button", name="Log in with password").click()
        expect(card.locator(".badge")).to_have_text("needs login", timeout=45_000)
    finally:
        stack.sandbox.client.login_switches("zhihu", captcha=False)
    expect(card.locator(".browser-login")).to_contain_text("captcha")
    shot = card.locator(".login-shot img")
    expect(shot).to_be_visible()
    assert shot.evaluate("img => img.complete && img.naturalWidth > 100")
    stack.shoot(page, "accounts-login-captcha")


def test_a_failed_browser_step_shows_its_screenshot_to_the_owner_only(
    stack: Stack, alice: dict[str, Any]
) -> None:
    page: Page = alice["page"]
    toutiao = bind(stack, page, "toutiao")
    stack.sandbox.client.add_fault("toutiao", "selector_changed", account=toutiao["name"])
    try:
        task_id = publish_one(stack, page, toutiao)
        page.goto("/tasks")
        expect(row(page, task_id)).to_have_attribute("data-status", "failed", timeout=45_000)
    finally:
        stack.sandbox.client.clear_faults()
    page.goto(f"/tasks/{task_id}")
    expect(page.locator(".error-box")).to_contain_text("page has changed")
    shot = page.locator(".task-shots img").first
    expect(shot).to_be_visible()
    assert shot.evaluate("img => img.complete && img.naturalWidth > 100")
    stack.shoot(page, "task-screenshot")
    src = shot.get_attribute("src") or ""
    bob = stack.page()
    stack.sign_in(bob, stack.user())
    assert bob.request.get(src).status == 404
    assert bob.goto(f"/tasks/{task_id}").status == 404  # type: ignore[union-attr]


def test_pages_carry_a_content_security_policy_and_still_work(
    stack: Stack, alice: dict[str, Any]
) -> None:
    page: Page = alice["page"]
    answer = page.goto("/stats")
    assert answer is not None
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "'unsafe-eval'" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
    bars = "[...document.querySelectorAll('#chart-days rect.bar')]"
    page.wait_for_function(
        f"() => {bars}.some(bar => bar.height.baseVal.value > 0)"
    )  # Frappe Charts
    page.locator("#range").select_option("7")  # submits by itself, with no inline handler
    expect(page).to_have_url(re.compile(r"days=7"))
    page.wait_for_function(f"() => {bars}.length > 0")
    stack.shoot(page, "stats-under-csp")
    page.goto("/articles/new")  # htmx: the live preview
    page.get_by_label("Body (Markdown)").fill("**bold**")
    expect(page.locator("#preview strong")).to_have_text("bold")
    page.goto("/tasks")  # the events stream
    expect(page.locator("#live")).not_to_have_class(re.compile("off"))
    for path in ("/accounts", "/jobs", "/pool", "/settings"):
        page.goto(path)
    assert stack.csp_errors == []
    assert "content-security-policy" not in page.request.get("/api/v1/tasks").headers


def test_the_preview_names_what_the_chosen_platform_cannot_take(
    stack: Stack, alice: dict[str, Any]
) -> None:
    page: Page = alice["page"]
    page.goto("/articles/new")
    page.get_by_label("Body (Markdown)").fill(
        "Press <kbd>Ctrl</kbd> and open <details><summary>more</summary>this</details>.\n"
    )
    expect(page.locator("#preview kbd")).to_have_text("Ctrl")  # generic HTML keeps it
    page.locator("#preview-platform").select_option("wechat")
    warnings = page.locator("#preview .warning-box li")
    expect(warnings.first).to_contain_text("<kbd> is not supported on wechat")
    expect(warnings).to_have_count(3)  # kbd, details, summary
    expect(page.locator("#preview kbd")).to_have_count(0)
    stack.shoot(page, "preview-warnings")


def test_an_image_attached_on_the_article_page_passes_the_platform_rules(
    stack: Stack, alice: dict[str, Any], tmp_path
) -> None:
    """The preview as a platform names its rules and defaults; an image the body refers to by a
    path is uploaded as the article's attachment, after which WeChat takes it as the cover."""
    page: Page = alice["page"]
    article_id = new_article(page, f"Images {uuid.uuid4().hex[:6]}")
    body = page.get_by_label("Body (Markdown)")
    body.fill(body.input_value() + "\n![photo](img/photo.png)\n")
    page.locator("#save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    page.locator("#preview-platform").select_option("wechat")
    expect(page.locator("#preview-rules")).to_contain_text(
        "image img/photo.png is neither a web address nor an image stored with the article"
    )
    image = tmp_path / "photo.png"
    image.write_bytes(png(8, 6, shade=5))
    page.get_by_label("Image file").set_input_files(str(image))
    page.get_by_label("Path in the body").fill("img/photo.png")
    page.locator("#attachment-upload").click()
    expect(page.locator("#attachment-list")).to_contain_text("img/photo.png")
    page.locator("#preview-platform").select_option("wechat")
    expect(page.locator("#preview-rules")).to_contain_text(
        "wechat cover: the body's first image, img/photo.png"
    )
    shown = page.locator("#preview img[alt=photo]")
    expect(shown).to_have_attribute("src", f"/articles/{article_id}/attachments/img/photo.png")
    page.wait_for_function("() => document.querySelector('#preview img[alt=photo]').naturalWidth")
    stack.shoot(page, "article-images")
    stored = stack.db.read(lambda s: storage.attachment_list(s, article_id))
    assert [(a.name, a.content_type) for a in stored] == [("img/photo.png", "image/png")]
