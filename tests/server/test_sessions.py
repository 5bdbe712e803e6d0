"""The dashboard's cookie session with its CSRF token, sign-out, and sign-in throttling, over a real server."""

import re

import httpx

from kefu.server.limits import LoginThrottle
from kefu.server.security import TOKEN_TTL_SECONDS, csrf_token
from tests.server.helpers import ADMIN_PASSWORD, RunningServer, new_agent

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
        # behind a TLS-terminating proxy (trusted by uvicorn) the cookies are Secure
        proxied = http.post(LOGIN, json=ADMIN, headers={"X-Forwarded-Proto": "https"})
        assert "; Secure" in cookie_line(proxied, "kefu_session") and "; Secure" in cookie_line(proxied, "kefu_csrf")


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
        assert not http.cookies and http.get("/api/v1/admin/me").status_code == 401


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_repeated_failed_logins_are_throttled_until_the_window_passes(sqlite_server: RunningServer) -> None:
    clock = Clock()
    sqlite_server.services.login_throttle = LoginThrottle(5, 900, clock)
    wrong = {"username": "admin", "password": "guess"}
    with httpx.Client(base_url=sqlite_server.url) as http:
        for _ in range(4):
            assert http.post(LOGIN, json=wrong).status_code == 401
            clock.now += 10
        assert http.post(LOGIN, json=ADMIN).status_code == 200  # clears admin's failures, not the address's
        assert http.post(LOGIN, json={"username": "nobody", "password": "x"}).status_code == 401  # 5th
        for attempt in (ADMIN, wrong, {"username": "someone-else", "password": "x"}):
            throttled = http.post(LOGIN, json=attempt)
            assert throttled.status_code == 429
            assert throttled.headers["retry-after"] == "860"  # until the first failure is 15 minutes old
            assert throttled.json() == {"detail": "too many failed sign-ins; try again in 860 s"}
        clock.now = 900
        assert http.post(LOGIN, json=ADMIN).status_code == 200


def test_throttling_counts_failures_per_username(sqlite_server: RunningServer) -> None:
    throttle = sqlite_server.services.login_throttle = LoginThrottle(5, 900, Clock())
    for _ in range(5):  # as if from five other addresses
        throttle.failed("user:admin")
    with httpx.Client(base_url=sqlite_server.url) as http:
        assert http.post(LOGIN, json=ADMIN).status_code == 429
        assert http.post(LOGIN, json={"username": "nobody", "password": "x"}).status_code == 401
