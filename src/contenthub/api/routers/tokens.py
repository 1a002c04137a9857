from __future__ import annotations

from fastapi import APIRouter, Request, Response

from contenthub.api.deps import CurrentUser, DbDep, ResourceId
from contenthub.api.schemas import TokenCreated, TokenIn, TokenOut
from contenthub.clock import utcnow
from contenthub.services import users

router = APIRouter(prefix="/tokens", tags=["tokens"])


def _out(token) -> TokenOut:  # type: ignore[no-untyped-def]
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


@router.post("", status_code=201)
def create_token(body: TokenIn, user: CurrentUser, db: DbDep) -> TokenCreated:
    """A new token for yourself; its value is shown in this answer only."""

    def work(s):  # type: ignore[no-untyped-def]
        token_id, plaintext = users.token_create(s, user.user_id, body.name, now=utcnow())
        token = next(t for t in users.token_list(s, user.user_id) if t.id == token_id)
        return TokenCreated(**_out(token).model_dump(), token=plaintext)

    return db.write(work)


@router.get("")
def list_tokens(user: CurrentUser, db: DbDep) -> list[TokenOut]:
    return db.read(lambda s: [_out(t) for t in users.token_list(s, user.user_id)])


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: ResourceId, user: CurrentUser, db: DbDep, request: Request) -> Response:
    db.write(lambda s: users.token_revoke(s, user.user_id, token_id, now=utcnow()))
    request.app.state.tokens.forget_user(user.user_id)
    return Response(status_code=204)
