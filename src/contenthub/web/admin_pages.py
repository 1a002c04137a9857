"""Administration: users (list, create, with a role) and platform limits. Administrators
only; anyone else gets the same 404 as for any page that is not theirs. Every user's tasks
are in the task monitor, which shows an administrator everything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from contenthub.clock import utcnow
from contenthub.errors import InputError, NotFound
from contenthub.services import platforms as platform_service
from contenthub.services import users as user_service
from contenthub.storage import Session
from contenthub.web.core import Web, page

router = APIRouter(include_in_schema=False)
Page = Annotated[Web, Depends(page)]


def _admin(web: Web) -> None:
    if not web.principal.is_admin:
        raise NotFound("page", "admin")


def _admin_page(web: Web, *, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    _admin(web)
    people = web.db.read(lambda s: user_service.user_list(s, web.principal))
    limits = web.db.read(platform_service.platform_limits)
    return web.render("admin.html", status=status, users=people, limits=limits, errors=errors or {})


@router.get("/admin")
def admin_page(web: Page) -> Response:
    return _admin_page(web)


@router.post("/admin/users")
def admin_user_create(web: Page) -> Response:
    _admin(web)
    try:
        web.db.write(
            lambda s: user_service.user_create(
                s,
                web.value("name")[:100],
                web.value("password")[:1024],
                admin=web.value("admin") == "on",
                now=utcnow(),
            )
        )
    except InputError as error:
        return _admin_page(web, status=422, errors={error.field: error.message})
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/platforms")
def admin_platform_limits(web: Page) -> Response:
    _admin(web)
    limits: dict[str, int | None] = {}
    for name in web.db.read(platform_service.platform_limits):
        raw = web.value(f"limit.{name}").strip()
        if raw and (not raw.isdigit() or len(raw) > 6):
            return _admin_page(web, status=422, errors={f"limit.{name}": "a whole number"})
        limits[name] = int(raw) if raw else None

    def store(s: Session) -> None:
        for name, limit in limits.items():
            platform_service.platform_limit_set(s, name, limit)

    try:
        web.db.write(store)
    except InputError as error:
        return _admin_page(web, status=422, errors={"limits": error.message})
    return RedirectResponse("/admin?saved=1", status_code=303)
