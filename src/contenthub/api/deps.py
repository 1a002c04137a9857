"""Dependency aliases: the database, the secret box, settings, and the calling user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contenthub.config import Settings
from contenthub.db import Database
from contenthub.secrets_box import SecretBox
from contenthub.services.users import Principal, token_authenticate

_bearer = HTTPBearer(auto_error=False, description="An API token: `contenthub user token NAME`")


class Unauthenticated(Exception):
    pass


def now() -> datetime:
    return datetime.now(UTC)


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_box(request: Request) -> SecretBox:
    return request.app.state.box


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated()
    db: Database = request.app.state.db
    principal = db.read(lambda s: token_authenticate(s, credentials.credentials, now=now()))
    if principal is None:
        raise Unauthenticated()
    request.state.principal = principal
    return principal


DbDep = Annotated[Database, Depends(get_db)]
BoxDep = Annotated[SecretBox, Depends(get_box)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CurrentUser = Annotated[Principal, Depends(get_principal)]

MAX_ID = 2_147_483_647  # ids are 32-bit on every database we support
ResourceId = Annotated[int, Path(ge=1, le=MAX_ID)]
