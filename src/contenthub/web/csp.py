"""The dashboard pages' Content-Security-Policy: everything they load is vendored and served
from here, so the policy allows this origin only. No inline scripts or ``<style>`` elements
(htmx's indicator rules are in app.css, its eval is off) but Frappe Charts' own stylesheet,
by its hash; style *attributes* are allowed because Frappe Charts writes a few into its SVG
(they cannot run code)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAPPE_CHARTS_STYLE = "sha256-CssDN67+wdcVeOo1+UBDlTtUvWjUmBJyiyqqRJHhrTQ="
EMPTY_STYLE = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="  # its <style> before the text
POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Frappe Charts adds its own stylesheet as a <style> element when it loads: that
        # exact text (of the vendored 1.6.2) is allowed by its hash, nothing else inline.
        f"style-src 'self' '{FRAPPE_CHARTS_STYLE}' '{EMPTY_STYLE}'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",  # Pico draws its icons as data: SVGs
        "connect-src 'self'",  # htmx requests and the events stream
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


class ContentSecurityPolicy:
    """Adds the policy to the HTML answers of ``is_page`` paths (not the API, whose JSON needs
    none, nor its docs page)."""

    def __init__(self, app: ASGIApp, is_page: Callable[[str], bool]) -> None:
        self.app = app
        self.is_page = is_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.is_page(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = POLICY
                    headers.setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        await self.app(scope, receive, send_with_policy)
