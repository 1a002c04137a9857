from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from contenthub.api.deps import BoxDep, CurrentUser, DbDep, ResourceId
from contenthub.api.schemas import (
    BUILT_IN_PLATFORMS,
    AccountIn,
    AccountOut,
    AccountUpdate,
    LoginCheckOut,
)
from contenthub.clock import utcnow
from contenthub.secrets_box import SecretBox
from contenthub.services import accounts
from contenthub.storage import AccountRow


class _PlatformErrors(APIRoute):
    """A body checked against one platform's schema reports its errors as the account's own
    fields (``options.root``, not ``local.options.root``), saying what to send instead."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                raise RequestValidationError(
                    [_plain(e) for e in error.errors()], body=error.body
                ) from None

        return route


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error["loc"])
    if len(loc) < 2 or loc[0] != "body" or loc[1] not in (*BUILT_IN_PLATFORMS, "plugin"):
        return error
    platform, rest = str(loc[1]), loc[2:]
    if platform in BUILT_IN_PLATFORMS and rest and rest[0] in ("options", "credentials"):
        field, message = accounts.explain(platform, str(rest[0]), {**error, "loc": rest[1:]})
        return {"type": error["type"], "loc": ("body", *field.split(".")), "msg": message}
    return {"type": error["type"], "loc": ("body", *rest), "msg": error["msg"]}


router = APIRouter(prefix="/accounts", tags=["accounts"], route_class=_PlatformErrors)


def _out(account: AccountRow, box: SecretBox) -> AccountOut:
    """The account as the API shows it: which credentials are set, never what they are."""
    shown = {k: v for k, v in dataclasses.asdict(account).items() if k != "credentials"}
    return AccountOut.model_validate(
        shown
        | {
            "has_credentials": bool(account.credentials),
            "credential_fields": accounts.credential_fields(account, box),
        }
    )


def _given(part: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    """What the client sent, as it sent it (the service checks it again, with its scope)."""
    if isinstance(part, BaseModel):
        return part.model_dump(mode="json", exclude_unset=True)
    return part


@router.post("", status_code=201)
def create_account(body: AccountIn, user: CurrentUser, db: DbDep, box: BoxDep) -> AccountOut:
    """Bind an account. ``options`` and ``credentials`` are those of its ``platform`` (one
    schema per platform below); credentials are sealed and never shown back."""
    return db.write(
        lambda s: _out(
            accounts.account_create(
                s,
                user,
                platform=body.platform,
                name=body.name,
                now=utcnow(),
                box=box,
                options=_given(body.options),
                credentials=_given(body.credentials),
                min_interval_seconds=body.min_interval_seconds,
                daily_cap=body.daily_cap,
            ),
            box,
        )
    )


@router.get("")
def list_accounts(user: CurrentUser, db: DbDep, box: BoxDep) -> list[AccountOut]:
    return db.read(lambda s: [_out(a, box) for a in accounts.account_list(s, scope=user.scope)])


@router.get("/{account_id}")
def get_account(account_id: ResourceId, user: CurrentUser, db: DbDep, box: BoxDep) -> AccountOut:
    return db.read(lambda s: _out(accounts.account_get(s, account_id, scope=user.scope), box))


@router.patch("/{account_id}")
def update_account(
    account_id: ResourceId, body: AccountUpdate, user: CurrentUser, db: DbDep, box: BoxDep
) -> AccountOut:
    fields = body.model_fields_set
    return db.write(
        lambda s: _out(
            accounts.account_update(
                s,
                account_id,
                scope=user.scope,
                now=utcnow(),
                box=box,
                name=body.name,
                options=body.options,
                credentials=body.credentials,
                min_interval_seconds=body.min_interval_seconds,
                daily_cap=body.daily_cap,
                clear_daily_cap="daily_cap" in fields and body.daily_cap is None,
                status=body.status,
                is_default=body.is_default,
            ),
            box,
        )
    )


@router.delete("/{account_id}", status_code=204)
def delete_account(account_id: ResourceId, user: CurrentUser, db: DbDep) -> Response:
    db.write(lambda s: accounts.account_delete(s, account_id, scope=user.scope))
    return Response(status_code=204)


@router.post("/{account_id}/check")
async def check_account(
    account_id: ResourceId, user: CurrentUser, db: DbDep, box: BoxDep
) -> LoginCheckOut:
    """Verify the login now; an expired one holds the account's tasks, a good one frees them."""
    account = await run_in_threadpool(
        db.read, lambda s: accounts.account_get(s, account_id, scope=user.scope)
    )
    result = await accounts.account_verify(db, account, box)
    return LoginCheckOut(status=result.status, identity=result.identity, message=result.message)
