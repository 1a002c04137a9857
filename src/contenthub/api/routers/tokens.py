from __future__ import annotations

from fastapi import APIRouter, Request, Response

from contenthub.api.deps import CurrentUser, DbDep, ResourceId
from contenthub.api.schemas import TokenCreated, TokenIn, TokenOut
from contenthub.clock import utcnow
from contenthub.services import users

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=201)
def create_token(body: TokenIn, user: CurrentUser, db: DbDep) -> TokenCreated:
    """A new token for yourself; its value is shown in this answer only."""
    token, plaintext = db.write(
        lambda s: users.token_create(s, user.user_id, body.name, now=utcnow())
    )
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=plaintext)


@router.get("")
def list_tokens(user: CurrentUser, db: DbDep) -> list[TokenOut]:
    tokens = db.read(lambda s: users.token_list(s, user.user_id))
    return [TokenOut.model_validate(t) for t in tokens]


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: ResourceId, user: CurrentUser, db: DbDep, request: Request) -> Response:
    db.write(lambda s: users.token_revoke(s, user.user_id, token_id, now=utcnow()))
    request.app.state.tokens.forget_user(user.user_id)
    return Response(status_code=204)
