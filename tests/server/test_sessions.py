"""The dashboard's cookie session with its CSRF token, sign-out and password changes that revoke tokens,
and sign-in throttling, over a real server."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kefu.project.settings import ServerSettings
from kefu.server.limits import SignInThrottle
from kefu.server.security import TOKEN_TTL_SECONDS, csrf_token
from tests.support.server import ADMIN_PASSWORD, RunningServer, login, new_agent, start_server
from tests.support.store import sqlite_copy

LOGIN = "/api/v1/admin/login"
ADMIN = {"username": "admin", "password": ADMIN_PASSWORD}


def cookie_line(response: httpx.Response, name: str) -> str:
    [line] = [line for line in response.headers.get_list("set-cookie") if line.startswith(f"{name}=")]
    return line


def test_login_sets_an_httponly_session_and_a_csrf_cookie_bound_to_it(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        response = http.post(LOGIN, json=ADMIN)
        token = response.json()["access_token"]  # API clients still get the token
        assert response.json()["token_type"] == "bearer"
        session, csrf = cookie_line(response, "kefu_session"), cookie_line(response, "kefu_csrf")
        assert session.startswith(f"kefu_session={token};")
        assert csrf.startswith(f"kefu_csrf={csrf_token(sqlite_server.services.secret, token)};")
        for line in (session, csrf):
            attributes = {part.strip().split("=")[0].lower() for part in line.split(";")[1:]}
            assert {"path", "samesite", "max-age"} <= attributes and "secure" not in attributes
            assert "; Path=/" in line and "samesite=strict" in line.lower()
            assert TOKEN_TTL_SECONDS - 5 <= int(re.search(r"Max-Age=(\d+)", line)[1]) <= TOKEN_TTL_SECONDS
        assert "HttpOnly" in session and "HttpOnly" not in csrf  # the dashboard's script reads the CSRF token
        # X-Forwarded-Proto from a client that is no trusted proxy is not believed
        claimed = http.post(LOGIN, json=ADMIN, headers={"X-Forwarded-Proto": "https"})
        assert "; Secure" not in claimed.headers["set-cookie"]


def test_behind_a_tls_terminating_proxy_the_cookies_are_secure(behind_proxy: RunningServer) -> None:
    with httpx.Client(base_url=behind_proxy.url) as http:
        proxied = http.post(LOGIN, json=ADMIN, headers={"X-Forwarded-Proto": "https"})
        for name in ("kefu_session", "kefu_csrf", "kefu_device"):
            assert "; Secure" in cookie_line(proxied, name)
        assert "; Path=/api/v1/admin/login;" in cookie_line(proxied, "kefu_device")
        assert "HttpOnly" in cookie_line(proxied, "kefu_device")


def test_cookie_writes_need_the_sessions_csrf_token(sqlite_server: RunningServer) -> None:
    new_user = {"username": "li", "password": "li-password"}
    with httpx.Client(base_url=sqlite_server.url) as http:
        http.post(LOGIN, json=ADMIN).raise_for_status()
        csrf = http.cookies["kefu_csrf"]
        assert http.get("/api/v1/admin/me").json()["username"] == "admin"  # reads: the cookie is enough
        with httpx.Client(base_url=sqlite_server.url) as other:
            new_agent(other, {"Authorization": f"Bearer {http.cookies['kefu_session']}"}, "mei")
            other.post(LOGIN, json={"username": "mei", "password": "mei-password"}).raise_for_status()
            foreign = other.cookies["kefu_csrf"]
        for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": foreign}, {"X-CSRF-Token": "é".encode()}):
            refused = http.post("/api/v1/admin/users", json=new_user, headers=headers)
            assert (refused.status_code, refused.json()) == (403, {"detail": "CSRF token missing or invalid"})
        assert http.post("/api/v1/admin/users", json=new_user, headers={"X-CSRF-Token": csrf}).status_code == 201
        # a bearer token is never sent by a browser on its own: no CSRF token needed with one
        bearer = {"Authorization": f"Bearer {http.cookies['kefu_session']}"}
        http.cookies.clear()
        assert http.post("/api/v1/admin/users", json={**new_user, "username": "wu"}, headers=bearer).status_code == 201


def test_logout_clears_both_cookies(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        http.post(LOGIN, json=ADMIN).raise_for_status()
        assert http.post("/api/v1/admin/logout").status_code == 403  # a write like any other
        response = http.post("/api/v1/admin/logout", headers={"X-CSRF-Token": http.cookies["kefu_csrf"]})
        assert response.status_code == 204
        for name in ("kefu_session", "kefu_csrf"):
            assert "Max-Age=0" in cookie_line(response, name)
        # the known-device cookie stays: it signs no one in, and keeps the browser known for next time
        assert list(http.cookies) == ["kefu_device"] and http.get("/api/v1/admin/me").status_code == 401


def test_signing_out_revokes_every_token_of_the_user_on_every_server(
    tiny_project: Path, sqlite_template: Path, tmp_path: Path
) -> None:
    database = sqlite_copy(sqlite_template, tmp_path)
    with (
        start_server(tiny_project, database) as first,
        start_server(tiny_project, database) as second,  # another worker on the same database
        httpx.Client(base_url=first.url) as dashboard,
        httpx.Client(base_url=second.url) as api,
    ):
        elsewhere = login(api)  # the same user signed in somewhere else
        dashboard.post(LOGIN, json=ADMIN).raise_for_status()
        session = {"Authorization": f"Bearer {dashboard.cookies['kefu_session']}"}
        dashboard.post("/api/v1/admin/logout", headers={"X-CSRF-Token": dashboard.cookies["kefu_csrf"]})
        for headers in (session, elsewhere):
            assert api.get("/api/v1/admin/me", headers=headers).status_code == 401
        assert api.get("/api/v1/admin/me", headers=login(api)).status_code == 200  # signing in again works


def test_a_new_password_revokes_old_tokens_but_keeps_the_dashboard_signed_in(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as dashboard, httpx.Client(base_url=sqlite_server.url) as api:
        elsewhere = login(api)
        dashboard.post(LOGIN, json=ADMIN).raise_for_status()
        old = {"Authorization": f"Bearer {dashboard.cookies['kefu_session']}"}
        changed = dashboard.post(
            "/api/v1/admin/me/password",
            json={"password": "a-new-password"},
            headers={"X-CSRF-Token": dashboard.cookies["kefu_csrf"]},
        )
        assert changed.status_code == 200
        assert changed.json()["access_token"] == dashboard.cookies["kefu_session"]  # fresh cookies
        assert dashboard.get("/api/v1/admin/me").status_code == 200
        dashboard.post("/api/v1/admin/logout", headers={"X-CSRF-Token": dashboard.cookies["kefu_csrf"]})
        assert dashboard.get("/api/v1/admin/me").status_code == 401
        for headers in (old, elsewhere):
            assert api.get("/api/v1/admin/me", headers=headers).status_code == 401
        login(api, "admin", "a-new-password")


@pytest.fixture()
def behind_proxy(serve_with) -> Iterator[RunningServer]:
    """The server behind a proxy on 127.0.0.1: each request names its client in X-Forwarded-For."""
    with serve_with(ServerSettings(trusted_proxies=["127.0.0.1"])) as server:
        yield server


def sign_in(http: httpx.Client, address: str, password: str = ADMIN_PASSWORD, username: str = "admin") -> int:
    body = {"username": username, "password": password}
    return http.post(LOGIN, json=body, headers={"X-Forwarded-For": address}).status_code


def test_wrong_passwords_from_one_address_do_not_keep_the_admin_out_elsewhere(behind_proxy: RunningServer) -> None:
    with httpx.Client(base_url=behind_proxy.url) as http:
        assert [sign_in(http, "203.0.113.1", "guess") for _ in range(6)] == [401] * 5 + [429]
        throttled = http.post(LOGIN, json=ADMIN, headers={"X-Forwarded-For": "203.0.113.1"})
        assert throttled.status_code == 429 and throttled.headers["retry-after"] == "900"
        assert throttled.json() == {"detail": "too many failed sign-ins; try again in 900 s"}
        assert sign_in(http, "198.51.100.7") == 200  # the admin, somewhere else
        new_agent(http, login(http), "mei")
        assert sign_in(http, "203.0.113.1", "mei-password", "mei") == 200  # someone else at that address


def test_past_the_usernames_ceiling_only_a_known_device_signs_in(behind_proxy: RunningServer) -> None:
    with httpx.Client(base_url=behind_proxy.url) as device, httpx.Client(base_url=behind_proxy.url) as stranger:
        assert sign_in(device, "192.0.2.10") == 200  # the admin's own browser: it keeps the device cookie
        assert "kefu_device" in device.cookies
        for n in range(10):  # 50 wrong passwords, 5 from each of 10 addresses
            assert [sign_in(stranger, f"203.0.113.{n}", "guess") for _ in range(5)] == [401] * 5
        assert sign_in(stranger, "198.51.100.7") == 429  # the right password, from a new address
        assert sign_in(device, "198.51.100.7") == 200  # ... but from the admin's device
        assert sign_in(device, "203.0.113.3") == 429  # a device has no more tries than anyone per address
        device.cookies.set("kefu_device", "forged." + device.cookies["kefu_device"].split(".")[1])
        assert sign_in(device, "198.51.100.8") == 429


def test_many_usernames_tried_from_one_address_wait_out_the_window(behind_proxy: RunningServer) -> None:
    clock = Clock()
    behind_proxy.services.login_throttle = SignInThrottle(ServerSettings(), clock)
    with httpx.Client(base_url=behind_proxy.url) as http:
        assert {sign_in(http, "203.0.113.1", "guess", f"user{n}") for n in range(20)} == {401}
        assert sign_in(http, "203.0.113.1", "guess", "user20") == 429
        assert sign_in(http, "203.0.113.1") == 429  # even the right password: this address is stuffing
        assert sign_in(http, "198.51.100.7") == 200
        clock.now += 900
        assert sign_in(http, "203.0.113.1") == 200


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
