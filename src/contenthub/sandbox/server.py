"""The sandbox server: every simulated platform under ``/{platform}``, plus a small admin API
under ``/_admin`` to add accounts, switch faults on and off, and read back what was published.

    run(host="127.0.0.1", port=8900)         # blocking, for `contenthub sandbox`
    with SandboxServer() as sandbox: ...      # tests and benchmarks: a free loopback port

Admin API:
    POST   /_admin/accounts   {platform, name}     → {platform, name, options, credentials}
    POST   /_admin/faults     {platform, kind, account?, on?, times?, retry_after?, status?,
                               message?, min_ms?, max_ms?, hang_seconds?}  → {id}
    DELETE /_admin/faults                          → every fault off
    GET    /_admin/posts?platform=&status=&account=  → what was drafted and published
    GET    /_admin/drafts?platform=&account=       → {count, drafts}: an account's drafts left
    GET    /_admin/operations?platform=            → [[platform, account, operation], …]
    POST   /_admin/login/scan  {platform, account, url|token}  → a phone confirms a QR code
    POST   /_admin/login/switches {platform, captcha?, second_factor?, qr_refresh_seconds?}
    POST   /_admin/sessions/expire {platform, account?}         → {expired}: cookies stop working
    POST   /_admin/review/hold {platform, account?, hold}  → new posts wait for review (or not)
    POST   /_admin/review/decide {platform, post_id, approve, reason?}  → approve or refuse one
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import asdict
from types import ModuleType, TracebackType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from contenthub.api_docs import install_offline_docs
from contenthub.sandbox import (
    bilibili,
    csdn,
    devto,
    ghost,
    jianshu,
    juejin,
    login,
    metaweblog,
    segmentfault,
    toutiao,
    wechat,
    wordpress,
    yuque,
    zhihu,
)
from contenthub.sandbox.pages import Refusal, json_payload, refusal_answer
from contenthub.sandbox.state import Fault, SandboxAccount, SandboxState, StoredImage

PLATFORMS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        zhihu,
        wordpress,
        devto,
        juejin,
        wechat,
        csdn,
        toutiao,
        metaweblog,
        ghost,
        yuque,
        segmentfault,
        jianshu,
        bilibili,
    )
}
DEMO_ACCOUNT_NAME = "demo"


def account_description(base_url: str, platform: str, name: str) -> dict[str, Any]:
    """How contenthub must be configured to publish through a sandbox account."""
    module = PLATFORMS[platform]
    return {
        "platform": platform,
        "name": name,
        "options": {
            "base_url": f"{base_url.rstrip('/')}{module.PREFIX}",
            **getattr(module, "ACCOUNT_OPTIONS", {}),
        },
        "credentials": module.credentials_for(name),
        # What a person types into the platform's login page (cookie platforms).
        **({"login": login.login_description(platform, name)} if hasattr(module, "LOGIN") else {}),
    }


def add_account(state: SandboxState, platform: str, name: str) -> SandboxAccount:
    module = PLATFORMS[platform]
    credentials = module.credentials_for(name)
    account = SandboxAccount(platform, name, f"{platform}-{name}", credentials)
    state.add_account(account, module.login_key(credentials))
    return account


def create_app(state: SandboxState | None = None) -> FastAPI:
    state = state or SandboxState()
    app = FastAPI(title="contenthub platform sandbox", docs_url=None, redoc_url=None)
    install_offline_docs(app, "/_admin/docs")
    app.state.sandbox = state
    app.add_exception_handler(Refusal, refusal_answer)
    # The docs page is the admin API's: the twins speak other sites' protocols (each adapter's
    # docstring names them), and 180 of their routes buried the dozen a test writer needs.
    for platform, module in PLATFORMS.items():
        add_account(state, platform, DEMO_ACCOUNT_NAME)
        app.include_router(module.build_router(state), include_in_schema=False)
        if hasattr(module, "LOGIN"):
            app.include_router(login.build_router(state, module.LOGIN), include_in_schema=False)
            home = login.build_home_router(state, module.LOGIN)
            app.include_router(home, include_in_schema=False)

    @app.post("/_admin/accounts")
    async def admin_account(request: Request) -> dict[str, Any]:
        payload = await json_payload(request)
        platform, name = str(payload.get("platform", "")), str(payload.get("name", ""))
        if platform not in PLATFORMS or not name:
            raise HTTPException(400, f"platform must be one of {sorted(PLATFORMS)}; name needed")
        add_account(state, platform, name)
        return account_description(str(request.base_url), platform, name)

    @app.post("/_admin/faults")
    async def admin_fault(request: Request) -> dict[str, Any]:
        payload = await json_payload(request)
        if payload.get("platform") not in PLATFORMS:
            raise HTTPException(400, f"platform must be one of {sorted(PLATFORMS)}")
        try:
            fault = state.add_fault(Fault(**payload))
        except (TypeError, ValueError) as error:
            raise HTTPException(400, str(error)) from None
        return asdict(fault)

    @app.delete("/_admin/faults")
    async def admin_faults_clear() -> dict[str, Any]:
        state.clear()
        return {"faults": 0}

    @app.get("/_admin/posts")
    async def admin_posts(
        platform: str | None = None, status: str | None = None, account: str | None = None
    ) -> list[dict]:
        return [
            p.summary()
            for p in state.posts_of(platform)
            if status in (None, p.status) and account in (None, p.account)
        ]

    @app.get("/_admin/drafts")
    async def admin_drafts(platform: str, account: str) -> dict[str, Any]:
        drafts = [p.summary() for p in state.drafts_of(platform, account)]
        return {"count": len(drafts), "drafts": drafts}

    @app.put("/_admin/web/{name}")
    async def admin_web_file(name: str, request: Request) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "application/octet-stream")
        state.web_files[name] = StoredImage(await request.body(), content_type)
        return {"url": f"{str(request.base_url).rstrip('/')}/_web/{name}"}

    @app.get("/_web/{name}")
    async def web_file(name: str) -> Response:
        """A stand-in for "some other website" that articles take their images from."""
        stored = state.web_files.get(name)
        if stored is None:
            return Response(status_code=404)
        return Response(stored.data, media_type=stored.content_type)

    @app.post("/_admin/login/scan")
    async def admin_login_scan(request: Request) -> dict[str, Any]:
        try:
            return login.scan(state, await json_payload(request))
        except ValueError as error:
            raise HTTPException(400, str(error)) from None

    @app.post("/_admin/login/switches")
    async def admin_login_switches(request: Request) -> dict[str, Any]:
        payload = await json_payload(request)
        if not hasattr(PLATFORMS.get(str(payload.get("platform"))), "LOGIN"):
            raise HTTPException(400, "platform must be one with a login page")
        try:
            return login.set_switches(state, payload)
        except (TypeError, ValueError):
            raise HTTPException(400, "qr_refresh_seconds must be a number") from None

    @app.post("/_admin/sessions/expire")
    async def admin_sessions_expire(request: Request) -> dict[str, Any]:
        payload = await json_payload(request)
        if payload.get("platform") not in PLATFORMS:
            raise HTTPException(400, f"platform must be one of {sorted(PLATFORMS)}")
        account = payload.get("account")
        return {"expired": state.expire_sessions(payload["platform"], account and str(account))}

    @app.post("/_admin/review/hold")
    async def admin_review_hold(request: Request) -> dict[str, Any]:
        payload = await json_payload(request)
        if payload.get("platform") not in PLATFORMS:
            raise HTTPException(400, f"platform must be one of {sorted(PLATFORMS)}")
        account = payload.get("account")
        key = (str(payload["platform"]), str(account) if account else None)
        if payload.get("hold", True):
            state.review_holds.add(key)
        else:
            state.review_holds.discard(key)
        return {"holds": sorted([p, a or "*"] for p, a in state.review_holds)}

    @app.post("/_admin/review/decide")
    async def admin_review_decide(request: Request) -> dict[str, Any]:
        payload = await json_payload(request)
        platform, post_id = str(payload.get("platform", "")), str(payload.get("post_id", ""))
        try:
            state.decide_review(
                platform,
                post_id,
                approve=bool(payload.get("approve")),
                reason=str(payload.get("reason") or ""),
            )
        except ValueError as error:
            raise HTTPException(404, str(error)) from None
        post = state.post(platform, post_id)
        assert post is not None
        return post.summary()

    @app.get("/_admin/operations")
    async def admin_operations(platform: str | None = None) -> list[list[Any]]:
        return [list(op) for op in state.operations if platform in (None, op[0])]

    return app


def run(host: str = "127.0.0.1", port: int = 8900) -> None:
    """Serve the sandbox until interrupted (blocking)."""
    uvicorn.run(create_app(), host=host, port=port, log_level="warning")


class SandboxClient:
    """The admin API, for tests and benchmarks (synchronous)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=10)

    def close(self) -> None:
        self._http.close()

    def _json(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    def add_account(self, platform: str, name: str) -> dict[str, Any]:
        return self._json(
            self._http.post("/_admin/accounts", json={"platform": platform, "name": name})
        )

    def add_fault(self, platform: str, kind: str, **settings: Any) -> dict[str, Any]:
        payload = {"platform": platform, "kind": kind, **settings}
        return self._json(self._http.post("/_admin/faults", json=payload))

    def clear_faults(self) -> None:
        self._json(self._http.delete("/_admin/faults"))

    def posts(self, platform: str | None = None, status: str | None = None) -> list[dict]:
        params = {k: v for k, v in (("platform", platform), ("status", status)) if v}
        return self._json(self._http.get("/_admin/posts", params=params))

    def draft_count(self, platform: str, account: str) -> int:
        """How many drafts ``account`` has on ``platform`` now."""
        params = {"platform": platform, "account": account}
        return int(self._json(self._http.get("/_admin/drafts", params=params))["count"])

    def put_web_file(self, name: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` at a URL of the sandbox's stand-in "other website"; returns the URL."""
        response = self._http.put(
            f"/_admin/web/{name}", content=data, headers={"Content-Type": content_type}
        )
        return self._json(response)["url"]

    def scan_qr(self, platform: str, account: str, url: str) -> dict[str, Any]:
        """A phone of ``account`` confirms the QR code that encodes ``url``."""
        payload = {"platform": platform, "account": account, "url": url}
        return self._json(self._http.post("/_admin/login/scan", json=payload))

    def login_switches(self, platform: str, **switches: Any) -> dict[str, Any]:
        payload = {"platform": platform, **switches}
        return self._json(self._http.post("/_admin/login/switches", json=payload))

    def expire_sessions(self, platform: str, account: str | None = None) -> int:
        payload = {"platform": platform, "account": account}
        return self._json(self._http.post("/_admin/sessions/expire", json=payload))["expired"]

    def hold_for_review(self, platform: str, account: str | None = None, hold: bool = True) -> None:
        """New posts of ``account`` (every account: None) wait for review before going public."""
        payload = {"platform": platform, "account": account, "hold": hold}
        self._json(self._http.post("/_admin/review/hold", json=payload))

    def decide_review(
        self, platform: str, post_id: str, *, approve: bool, reason: str = ""
    ) -> dict[str, Any]:
        payload = {"platform": platform, "post_id": post_id, "approve": approve, "reason": reason}
        return self._json(self._http.post("/_admin/review/decide", json=payload))

    def operations(self, platform: str | None = None) -> list[list[Any]]:
        params = {"platform": platform} if platform else {}
        return self._json(self._http.get("/_admin/operations", params=params))


class SandboxServer:
    """The sandbox on a free loopback port, served by uvicorn on a thread of this process."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.state = SandboxState()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            timeout_graceful_shutdown=1,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="sandbox", daemon=True)
        self.client = SandboxClient(self.url)

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> SandboxServer:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the sandbox server did not start")
            self._thread.join(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self.client.close()
        self._socket.close()

    def account(self, platform: str, name: str = DEMO_ACCOUNT_NAME) -> dict[str, Any]:
        """An account the sandbox accepts (created when new), described as contenthub needs."""
        if name != DEMO_ACCOUNT_NAME:
            return self.client.add_account(platform, name)
        return account_description(self.url, platform, name)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run the contenthub platform sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    arguments = parser.parse_args()
    run(arguments.host, arguments.port)
