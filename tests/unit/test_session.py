"""The session shape of the cookie platforms: every import format read into one storage state,
and a jar that sends each platform host only its own cookies."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from contenthub.platforms.juejin import JuejinCredentials
from contenthub.platforms.session import (
    CookieFileError,
    SessionJar,
    StorageState,
    for_site,
    from_site,
    parse_cookie_text,
    state_of,
)

LATER = time.time() + 86_400


def test_a_netscape_file_as_exporters_write_it() -> None:
    text = (
        "# Netscape HTTP Cookie File\n"
        "#HttpOnly_.zhihu.com\tTRUE\t/\tTRUE\t2147483647\tz_c0\tsecret\n"
        # The subdomain flag contradicting the domain (MozillaCookieJar refuses the file).
        "www.zhihu.com\tTRUE\t/\tFALSE\t0\t_xsrf\tx\n"
        "\n# a comment\n"
        ".zhihu.com\tTRUE\t/\tFALSE\t0\tempty\n"
    )
    state = parse_cookie_text(text)
    z_c0, xsrf, empty = state.cookies
    assert (z_c0.domain, z_c0.httpOnly, z_c0.secure, z_c0.expires) == (
        ".zhihu.com",
        True,
        True,
        2147483647,
    )
    assert (xsrf.domain, xsrf.expires, xsrf.httpOnly) == ("www.zhihu.com", -1, False)
    assert empty.value == ""


def test_a_browser_extension_export_takes_playwright_names() -> None:
    exported = [
        {
            "domain": "juejin.cn",
            "hostOnly": False,
            "name": "sessionid",
            "value": "s",
            "path": "/",
            "secure": True,
            "session": False,
            "sameSite": "no_restriction",
            "expirationDate": LATER,
            "storeId": "0",
        },
        {"domain": "juejin.cn", "hostOnly": True, "name": "h", "value": "v", "session": True},
    ]
    state = parse_cookie_text(json.dumps(exported))
    shared, host_only = state.cookies
    assert (shared.domain, shared.sameSite, shared.expires) == (".juejin.cn", "None", LATER)
    assert (host_only.domain, host_only.expires, host_only.sameSite) == ("juejin.cn", -1, "Lax")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("not cookies", "neither JSON nor a Netscape cookie file"),
        ('{"origins": []}', "holds no cookies"),
        ('[{"name": "a"}]', "not readable at cookies.0"),
        ("# only comments\n", "neither JSON nor a Netscape cookie file"),
    ],
)
def test_what_is_not_a_cookie_file_is_named(text: str, said: str) -> None:
    with pytest.raises(CookieFileError, match=said):
        parse_cookie_text(text)


def test_older_credentials_become_cookies_of_the_platform_domain() -> None:
    for old in ({"cookies": {"sessionid": "s"}}, {"cookies": "sessionid=s; other=o"}):
        checked = JuejinCredentials.model_validate(old).model_dump(mode="json", exclude_none=True)
        assert set(checked) == {"storage_state"}
        assert checked["storage_state"]["cookies"][0]["domain"] == ".juejin.cn"
        assert state_of(old, ".juejin.cn").cookies[0].value == "s"


def test_each_host_gets_only_its_own_unexpired_cookies() -> None:
    state = StorageState.model_validate(
        {
            "cookies": [
                {"name": "sessionid", "value": "juejin", "domain": ".juejin.cn"},
                {"name": "sessionid", "value": "django", "domain": ".djangoproject.com"},
                {"name": "api", "value": "a", "domain": "api.juejin.cn", "path": "/user_api"},
                {"name": "old", "value": "o", "domain": ".juejin.cn", "expires": 1},
                {"name": "tls", "value": "t", "domain": ".juejin.cn", "secure": True},
            ]
        }
    )
    base = "http://127.0.0.1:9/juejin"
    jar = SessionJar(state, {"base_url": base})
    assert jar.header_for(f"{base}/api.juejin.cn/user_api/v1/user/get") == (
        "api=a; sessionid=juejin; tls=t"
    )
    assert jar.header_for(f"{base}/juejin.cn/post/1") == "sessionid=juejin; tls=t"
    assert jar.header_for(f"{base}/imagex.bytedanceapi.com/") == ""
    assert jar.header_for("http://127.0.0.1:9/other") == ""
    assert jar.value("sessionid", f"{base}/juejin.cn/") == "juejin"


def test_cookies_the_platform_sets_are_kept_for_its_domain() -> None:
    state = StorageState.model_validate(
        {"cookies": [{"name": "z_c0", "value": "v", "domain": ".zhihu.com", "expires": LATER}]}
    )
    base = "http://127.0.0.1:9/zhihu"
    jar = SessionJar(state, {"base_url": base})

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["cookie"] == "z_c0=v"
        return httpx.Response(
            200,
            headers=[
                ("set-cookie", "z_c0=v; Domain=zhihu.com; Path=/; Max-Age=2592000; HttpOnly"),
                ("set-cookie", "evil=1; Domain=example.com; Path=/"),
            ],
        )

    with httpx.Client(transport=httpx.MockTransport(answer), auth=jar) as client:
        client.get(f"{base}/www.zhihu.com/api/v4/me")
    assert jar.changed
    [z_c0] = jar.storage_state().cookies
    assert z_c0.domain == ".zhihu.com" and z_c0.httpOnly and z_c0.expires > LATER


def test_a_browser_on_a_stand_in_holds_the_platforms_cookies_on_its_host_and_back() -> None:
    stored = StorageState.model_validate(
        {"cookies": [{"name": "z_c0", "value": "v", "domain": ".zhihu.com", "secure": True}]}
    )
    sandbox = {"base_url": "http://127.0.0.1:8900/zhihu"}
    [moved] = for_site(stored, sandbox).cookies
    assert (moved.domain, moved.path, moved.secure) == ("127.0.0.1", "/zhihu", False)
    assert for_site(stored, {}) == stored  # the real site: as stored

    # What the browser holds afterwards: the moved cookie, one the stand-in set for its whole
    # site, one set under one stand-in host, and one of another site entirely.
    held = StorageState.model_validate(
        {
            "cookies": [
                moved.model_dump(),
                {"name": "d_c0", "value": "d", "domain": "127.0.0.1", "path": "/zhihu"},
                {
                    "name": "q",
                    "value": "q",
                    "domain": "127.0.0.1",
                    "path": "/zhihu/www.zhihu.com/x",
                },
                {"name": "o", "value": "o", "domain": "127.0.0.1", "path": "/other"},
            ]
        }
    )
    back = {(c.name, c.domain, c.path) for c in from_site(held, sandbox, ".zhihu.com").cookies}
    assert back == {
        ("z_c0", ".zhihu.com", "/"),
        ("d_c0", ".zhihu.com", "/"),
        ("q", "www.zhihu.com", "/x"),
        ("o", "127.0.0.1", "/other"),
    }
