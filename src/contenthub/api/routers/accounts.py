from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from contenthub.api.deps import BoxDep, CurrentUser, DbDep, ResourceId
from contenthub.api.schemas import AccountIn, AccountOut, AccountUpdate, LoginCheckOut
from contenthub.clock import utcnow
from contenthub.services import accounts
from contenthub.storage import AccountRow

router = APIRouter(prefix="/accounts", tags=["accounts"])


def _out(account: AccountRow) -> AccountOut:
    """The account as the API shows it: whether credentials are stored, never what they are."""
    fields = dataclasses.asdict(account) | {"has_credentials": bool(account.credentials)}
    return AccountOut.model_validate(fields)


@router.post("", status_code=201)
def create_account(body: AccountIn, user: CurrentUser, db: DbDep, box: BoxDep) -> AccountOut:
    return db.write(
        lambda s: _out(
            accounts.account_create(
                s,
                user,
                platform=body.platform,
                name=body.name,
                now=utcnow(),
                box=box,
                options=body.options,
                credentials=body.credentials,
                min_interval_seconds=body.min_interval_seconds,
                daily_cap=body.daily_cap,
            )
        )
    )


@router.get("")
def list_accounts(user: CurrentUser, db: DbDep) -> list[AccountOut]:
    return db.read(lambda s: [_out(a) for a in accounts.account_list(s, scope=user.scope)])


@router.get("/{account_id}")
def get_account(account_id: ResourceId, user: CurrentUser, db: DbDep) -> AccountOut:
    return db.read(lambda s: _out(accounts.account_get(s, account_id, scope=user.scope)))


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
            )
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
