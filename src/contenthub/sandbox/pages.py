"""Shared pieces of the simulated platforms: public post pages, cookie access, JSON errors, and
the refusal a platform's gate raises to end a request with that platform's own answer."""

from __future__ import annotations

import html
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from contenthub.platforms.render import markdown_to_html
from contenthub.sandbox.state import SandboxPost, SandboxState


class Refusal(Exception):
    """The answer that ends a request early: a switched-on fault, a missing login, a bad
    signature. A platform's gate raises it with the body that platform would send; the
    server's one handler sends that body, so an endpoint reads only its happy path."""

    def __init__(self, answer: Response) -> None:
        super().__init__(answer.status_code)
        self.answer = answer


async def refusal_answer(_: Request, refusal: Refusal) -> Response:
    """The server's handler for :class:`Refusal`."""
    return refusal.answer


def post_page(
    post: SandboxPost | None,
    *,
    markdown: bool = False,
    summary_field: str | None = None,
    fields_are_html: bool = False,
) -> Response:
    """The public page of a post: 404 unless it is published (and through any review). It
    shows the title, tags and the summary (``post.extra[summary_field]``) as the platform
    does: as text, or, where the platform treats them as HTML (``fields_are_html``:
    WordPress), as received."""
    if post is None or not post.public:
        return HTMLResponse("<!doctype html><title>404</title><h1>Not found</h1>", 404)
    shown = (lambda text: text) if fields_are_html else html.escape
    body = markdown_to_html(post.body) if markdown else post.body
    tags = " ".join(f"<span class='tag'>#{shown(t)}</span>" for t in post.tags)
    summary = str(post.extra.get(summary_field, "")) if summary_field else ""
    summary_html = f"<p class='summary'>{shown(summary)}</p>" if summary else ""
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(post.title)}</title></head><body><article>"
        f"<h1>{shown(post.title)}</h1>{summary_html}<p>{tags}</p>{body}</article></body></html>"
    )


def image_response(sandbox: SandboxState, key: str) -> Response:
    image = sandbox.images.get(key)
    if image is None:
        return Response(status_code=404)
    return Response(image.data, media_type=image.content_type)


def root_url(request: Request, prefix: str) -> str:
    """This platform's root on the sandbox, as the client reached it."""
    return str(request.base_url).rstrip("/") + prefix


async def json_payload(request: Request) -> dict[str, Any]:
    try:
        payload = await request.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def json_error(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


SESSION_SECONDS = 30 * 86_400


def refresh_login(response: Response, request: Request, name: str, domain: str) -> Response:
    """Extend the login cookie ``name`` by 30 days, as the real platforms do whenever a
    session is used: a client that saves what it is sent stays logged in."""
    response.set_cookie(
        name,
        request.cookies.get(name, ""),
        max_age=SESSION_SECONDS,
        path="/",
        domain=domain,
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


def fnv1a(text: str) -> str:
    """32-bit FNV-1a, the same as ``FNV1A_JS``: what the twins' page signatures are made of
    (the real platforms' algorithms are obfuscated; only their effect is simulated [I])."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


FNV1A_JS = """
function fnv1a(text) {
  let value = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    value ^= byte;
    value = Math.imul(value, 0x01000193) >>> 0;
  }
  return value.toString(16).padStart(8, "0");
}
"""
