"""Accounts: bind one with the fields its platform declares (the adapters' ``options_model``
and ``credentials_model``, as the CLI and the API use them), check its login, log it in again
with pasted or uploaded cookies, and set its pacing."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from contenthub import storage
from contenthub.api.deps import ResourceId
from contenthub.clock import utcnow
from contenthub.errors import InputError
from contenthub.platforms.registry import known_platforms, publisher_for
from contenthub.services import accounts as account_service
from contenthub.services import compat, login
from contenthub.storage import AccountRow
from contenthub.web import login_pages
from contenthub.web.core import Web, page

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]
MAX_COOKIE_FILE = 1024 * 1024
COOKIES_HELP = (
    'A {"name": "value"} map or a Cookie line; or leave it empty and log in from the account.'
)


@dataclass(frozen=True)
class FieldSpec:
    """One input of a platform's options or credentials, as the form shows it."""

    section: str  # options | credentials
    name: str
    label: str
    kind: str  # text | secret | number | textarea
    required: bool
    help: str | None

    @property
    def input_name(self) -> str:
        return f"{self.section}.{self.name}"


def _kind(schema: dict[str, Any]) -> str:
    types = {s.get("type") for s in schema.get("anyOf", [schema])}
    if "object" in types:
        return "textarea"
    if schema.get("writeOnly"):  # a password, optional or not
        return "secret"
    if types & {"number", "integer"}:
        return "number"
    return "text"


def field_specs(platform: str) -> list[FieldSpec]:
    adapter = type(publisher_for(platform))
    specs = []
    models: tuple[tuple[str, type[BaseModel]], ...] = (
        ("credentials", adapter.credentials_model),
        ("options", adapter.options_model),
    )
    for section, model in models:
        schema = model.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            if section == "credentials" and name == "storage_state":
                # A browser login's session: pasted here as cookies (a JSON map or a Cookie
                # line, which the model turns into a storage state), or made later by the
                # account's "Log in" (QR code or password) or an uploaded cookie file.
                specs.append(
                    FieldSpec(section, "cookies", "Cookies", "textarea", False, COOKIES_HELP)
                )
                continue
            specs.append(
                FieldSpec(
                    section,
                    name,
                    prop.get("title", name),
                    _kind(prop),
                    name in required,
                    prop.get("description"),
                )
            )
    return specs


def _section(web: Web, specs: list[FieldSpec], section: str) -> dict[str, Any]:
    """The filled-in fields of one section; JSON text where the platform takes a map."""
    values: dict[str, Any] = {}
    for spec in (s for s in specs if s.section == section):
        raw = web.value(spec.input_name).strip()
        if not raw:
            continue
        if spec.kind == "textarea" and raw.startswith(("{", "[")):
            try:
                values[spec.name] = json.loads(raw)
                continue
            except json.JSONDecodeError:
                raise InputError(spec.input_name, "is not valid JSON") from None
        if spec.kind == "number":
            try:
                values[spec.name] = float(raw)
                continue
            except ValueError:
                raise InputError(spec.input_name, "must be a number") from None
        values[spec.name] = raw
    return values


async def _uploaded_cookies(web: Web) -> dict[str, Any] | None:
    upload = web.form.get("cookie_file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(MAX_COOKIE_FILE + 1)
    if len(data) > MAX_COOKIE_FILE:
        raise InputError("cookie_file", "is larger than 1 MiB")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cookies"
        path.write_bytes(data)
        try:
            return account_service.read_cookie_file(path)
        except InputError as error:
            raise InputError("cookie_file", "holds no cookies we can read") from error


def _number(web: Web, name: str, *, whole: bool) -> float | int | None:
    raw = web.value(name).strip()
    if not raw:
        return None
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise InputError(name, "must be a whole number" if whole else "must be a number") from None
    if abs(value) > 10**9:
        raise InputError(name, "is too large")
    return value


def _accounts_page(
    web: Web,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    platform: str = "",
    notes: dict[int, str] | None = None,
    failures: dict[int, dict[str, str]] | None = None,
) -> HTMLResponse:
    me = web.principal
    accounts = web.db.read(lambda s: account_service.account_list(s, scope=me.user_id))
    waiting = web.db.read(
        lambda s: {a.id: storage.account_active_task_count(s, a.id) for a in accounts}
    )
    platforms = known_platforms()
    chosen = platform if platform in platforms else ""
    return web.render(
        "accounts.html",
        status=status,
        accounts=accounts,
        waiting=waiting,
        platforms=platforms,
        chosen=chosen,
        specs=field_specs(chosen) if chosen else [],
        errors=errors or {},
        notes=notes or {},
        failures=failures or {},
        added=web.request.query_params.get("added") == "1",
        logins=login_pages.runs_of(web.request.app),
        browser_platforms={a.platform for a in accounts if login.login_page_of(a.platform)},
        # Where the user has a default account to choose (§25): only the old API uses it.
        default_choice={
            p
            for p in (compat.DEFAULT_PLATFORMS if web.request.app.state.settings.compat_api else ())
            if sum(a.platform == p for a in accounts) > 1
        },
    )


@router.get("/accounts")
def accounts_page(web: Page) -> HTMLResponse:
    return _accounts_page(web, platform=web.request.query_params.get("platform", ""))


@router.get("/accounts/fields")
def account_fields(web: Page) -> HTMLResponse:
    """The bind form's fields for the chosen platform (htmx swaps them in)."""
    platform = web.request.query_params.get("platform", "")
    specs = field_specs(platform) if platform in known_platforms() else []
    return web.render("_account_fields.html", specs=specs, errors={}, chosen=platform)


@router.post("/accounts")
def account_bind(web: Page) -> Response:
    platform = web.value("platform")
    if platform not in known_platforms():
        return _accounts_page(web, status=422, errors={"platform": "choose a platform"})
    specs = field_specs(platform)
    try:
        options = _section(web, specs, "options")
        credentials = _section(web, specs, "credentials")
        interval = _number(web, "min_interval_seconds", whole=False)
        cap = _number(web, "daily_cap", whole=True)
        web.db.write(
            lambda s: account_service.account_create(
                s,
                web.principal,
                platform=platform,
                name=web.value("name")[:200],
                now=utcnow(),
                box=web.request.app.state.box,
                options=options,
                credentials=credentials or None,
                min_interval_seconds=interval or 0.0,
                daily_cap=int(cap) if cap is not None else None,
            )
        )
    except InputError as error:
        return _accounts_page(
            web, status=422, errors={error.field: error.message}, platform=platform
        )
    return RedirectResponse("/accounts?added=1", status_code=303)


def _account(web: Web, account_id: int) -> AccountRow:
    me = web.principal
    return web.db.read(lambda s: account_service.account_get(s, account_id, scope=me.user_id))


def _update(web: Web, account: AccountRow, **changes: Any) -> None:
    """The signed-in user's own account changed as ``account_service.account_update`` takes."""
    web.db.write(
        lambda s: account_service.account_update(
            s,
            account.id,
            scope=web.principal.user_id,
            now=utcnow(),
            box=web.request.app.state.box,
            **changes,
        )
    )


@router.post("/accounts/{account_id}/check")
async def account_check(account_id: ResourceId, web: Page) -> Response:
    account = await run_in_threadpool(_account, web, account_id)
    result = await account_service.account_verify(web.db, account, web.request.app.state.box)
    note = web.t("accounts.checked", status=web.t(f"health.{result.status}"))
    if result.identity:
        note += " · " + web.t("accounts.identity", who=result.identity)
    if result.message:
        note += " · " + result.message
    return await run_in_threadpool(lambda: _accounts_page(web, notes={account.id: note}))


@router.post("/accounts/{account_id}/login")
async def account_relogin(account_id: ResourceId, web: Page) -> Response:
    """Pasted cookies or an uploaded cookie file replace the login; the account is active
    again, which releases the publishes that waited for it."""
    account = await run_in_threadpool(_account, web, account_id)
    try:
        credentials = await _uploaded_cookies(web)
        if credentials is None:
            pasted = web.value("cookies").strip()
            if not pasted:
                raise InputError("cookies", "paste the cookies or choose a file")
            credentials = {"cookies": json.loads(pasted) if pasted.startswith("{") else pasted}
    except json.JSONDecodeError:
        failure = {"cookies": "is not valid JSON"}
        return await run_in_threadpool(lambda: _accounts_page(web, failures={account.id: failure}))
    except InputError as error:
        failure = {error.field: error.message}
        return await run_in_threadpool(lambda: _accounts_page(web, failures={account.id: failure}))

    try:
        await run_in_threadpool(
            lambda: _update(web, account, credentials=credentials, status="active")
        )
    except InputError as error:
        failure = {"cookies": error.message}
        return await run_in_threadpool(lambda: _accounts_page(web, failures={account.id: failure}))
    note = web.t("accounts.relogged")
    return await run_in_threadpool(lambda: _accounts_page(web, notes={account.id: note}))


@router.post("/accounts/{account_id}/pacing")
def account_pacing(account_id: ResourceId, web: Page) -> Response:
    account = _account(web, account_id)
    try:
        interval = _number(web, "min_interval_seconds", whole=False)
        cap = _number(web, "daily_cap", whole=True)
        _update(
            web,
            account,
            min_interval_seconds=interval if interval is not None else 0.0,
            daily_cap=int(cap) if cap is not None else None,
            clear_daily_cap=cap is None,
        )
    except InputError as error:
        failure = {error.field: error.message}
        return _accounts_page(web, status=422, failures={account.id: failure})
    return _accounts_page(web, notes={account.id: web.t("saved")})


@router.post("/accounts/{account_id}/default")
def account_default(account_id: ResourceId, web: Page) -> Response:
    """The account a publish with none named goes to on its platform (the old API's)."""
    account = _account(web, account_id)
    _update(web, account, is_default=True)
    note = web.t("accounts.now_default", platform=account.platform)
    return _accounts_page(web, notes={account.id: note})
