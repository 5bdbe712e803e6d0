"""What the server does against abuse and leaks: the chat rate limit, request size limits, validation
errors that do not echo input, CORS, security headers on every response, and logs without secrets."""

import logging
import re

import httpx
import pytest

from kefu.project.settings import ServerSettings
from kefu.server.app import cors_origins
from kefu.server.pages import STATIC_DIR
from tests.support.server import (
    ADMIN_PASSWORD,
    RunningServer,
    chat,
    login,
    session_headers,
    uvicorn_logs_to,
)

EMAIL = "mei.lin.1987@example.com"
JSON = {"Content-Type": "application/json"}


def test_the_chat_api_is_rate_limited_per_client_address(serve_with) -> None:
    settings = ServerSettings(chat_rate_per_minute=1, chat_burst=3)
    with serve_with(settings) as server, httpx.Client(base_url=server.url) as http:
        session = chat(http, "hi")["session_id"]
        assert http.post("/api/v1/chat", json={"text": "hi"}).status_code == 200
        assert chat(http, "hi", session)["session_id"] == session
        limited = http.post(
            "/api/v1/chat", json={"text": "hi", "session_id": session}, headers=session_headers(session)
        )
        assert limited.status_code == 429
        assert 55 <= int(limited.headers["retry-after"]) <= 60  # one message a minute
        detail = limited.json()["detail"]
        assert re.fullmatch(r"too many chat requests from this address; try again in \d+ s", detail)
        assert http.get("/healthz").status_code == 200  # only the chat API is limited


def test_oversized_bodies_get_413_whether_announced_or_chunked(sqlite_server: RunningServer) -> None:
    too_big = {"detail": "request body over 65536 bytes"}
    with httpx.Client(base_url=sqlite_server.url) as http:
        announced = http.post("/api/v1/chat", content=b"x" * 70_000, headers=JSON)
        assert (announced.status_code, announced.json()) == (413, too_big)
        assert announced.headers["x-content-type-options"] == "nosniff"
        chunks = iter([b'{"text": "', b"x" * 40_000, b"x" * 40_000, b'"}'])  # no Content-Length: chunked
        chunked = http.post("/api/v1/chat", content=chunks, headers=JSON)
        assert (chunked.status_code, chunked.json()) == (413, too_big)
        fits = http.post("/api/v1/chat", content=iter([b'{"text": ', b'"hello"}']), headers=JSON)
        assert fits.status_code == 200


def test_validation_errors_name_the_field_without_echoing_the_input(sqlite_server: RunningServer) -> None:
    text = f"please write to {EMAIL} " + "x" * 2000
    with httpx.Client(base_url=sqlite_server.url) as http:
        response = http.post("/api/v1/chat", json={"text": text, "explain": "maybe"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "text"], "msg": "String should have at most 2000 characters", "type": "string_too_long"},
            {"loc": ["body", "explain"], "msg": "Input should be a valid boolean, unable to interpret input",
             "type": "bool_parsing"},
        ]
    }
    assert EMAIL not in response.text and "maybe" not in response.text


def test_nul_characters_are_refused_before_the_database_sees_them(client: httpx.Client) -> None:
    """PostgreSQL cannot store or even look up text with NUL: a clear 4xx on both backends, not a 500."""
    admin = login(client)
    assert client.post("/api/v1/chat", json={"text": "hi\x00"}).status_code == 422
    assert client.get("/api/v1/chat/a%00b/messages").status_code == 400
    assert client.get("/api/v1/admin/conversations", params={"q": "a\x00"}, headers=admin).status_code == 400
    user = {"username": "mei\x00", "password": "mei-password"}
    refused = client.post("/api/v1/admin/users", json=user, headers=admin)
    assert refused.json()["detail"] == [
        {"loc": ["body", "username"], "msg": "Value error, must not contain NUL characters", "type": "value_error"}
    ]
    assert client.get("/api/v1/admin/me", headers={"Authorization": "Bearer é".encode()}).status_code == 401


def test_cors_answers_only_the_listed_origins(serve_with, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEFU_CORS_ORIGINS", raising=False)
    # the widget sends its conversation's key in a header of its own
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-session-key",
    }
    settings = ServerSettings(cors_origins=["https://shop.example"])
    with serve_with(settings) as server, httpx.Client(base_url=server.url) as http:
        listed = http.options("/api/v1/chat", headers={"Origin": "https://shop.example", **preflight})
        assert listed.status_code == 200 and listed.headers["access-control-allow-origin"] == "https://shop.example"
        unlisted = http.options("/api/v1/chat", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in unlisted.headers
        answer = http.post("/api/v1/chat", json={"text": "hi"}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in answer.headers


def test_the_environment_overrides_the_cors_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ServerSettings(cors_origins=["https://shop.example"])
    monkeypatch.delenv("KEFU_CORS_ORIGINS", raising=False)
    assert cors_origins(settings) == ["https://shop.example"] and cors_origins(ServerSettings()) == []
    monkeypatch.setenv("KEFU_CORS_ORIGINS", " https://a.example, https://b.example ,")
    assert cors_origins(settings) == ["https://a.example", "https://b.example"]


def test_every_response_carries_the_security_headers(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        admin = login(http)
        responses = {
            "page": http.get("/"),
            "dashboard": http.get("/admin"),
            "chat": http.post("/api/v1/chat", json={"text": "hi"}),
            "not found": http.get("/nowhere"),
            "admin": http.get("/api/v1/admin/me", headers=admin),
            "unauthorized": http.get("/api/v1/admin/me"),
        }
    for name, response in responses.items():
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["referrer-policy"] == "no-referrer", name
    for name in ("page", "dashboard"):
        policy = responses[name].headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert responses[name].headers["x-frame-options"] == "DENY"
    for name in ("admin", "unauthorized"):
        assert responses[name].headers["cache-control"] == "no-store"
    assert "content-security-policy" not in responses["chat"].headers


def test_the_pages_have_no_inline_script_or_style() -> None:
    """What lets their Content-Security-Policy do without 'unsafe-inline'."""
    for page in ("index.html", "admin.html"):
        html = (STATIC_DIR / page).read_text(encoding="utf-8")
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], page
        assert re.findall(r"<style|\sstyle=|\son[a-z]+=", html) == [], page


def test_no_password_token_or_customer_data_reaches_the_logs(serve_with, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        serve_with(ServerSettings(), log_level="debug") as server,
        uvicorn_logs_to(caplog),
        httpx.Client(base_url=server.url) as http,
    ):
        wrong = http.post("/api/v1/admin/login", json={"username": "admin", "password": "wrong-1"})
        assert wrong.status_code == 401
        signed_in = http.post("/api/v1/admin/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        token, session = signed_in.json()["access_token"], http.cookies["kefu_session"]
        answer = http.post("/api/v1/chat", json={"text": f"my e-mail is {EMAIL}, where is my order?"})
        session_id = answer.json()["session_id"]
        http.get(f"/api/v1/chat/{session_id}/messages")
        bearer = {"Authorization": f"Bearer {token}"}
        http.post("/api/v1/admin/conversations/search", json={"q": "order"}, headers=bearer)
        http.get(f"/api/v1/admin/conversations/{session_id}")  # by cookie
    # the records of this process's HTTP client (httpx, httpcore) are the test's, not the server's
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in server_records)
    assert "POST /api/v1/admin/login" in logged and "GET /api/v1/chat/" in logged  # the access log was caught
    for secret in (ADMIN_PASSWORD, "wrong-1", token, session, EMAIL, "mei.lin"):
        assert secret not in logged


def test_no_search_term_reaches_the_access_log(serve_with, caplog: pytest.LogCaptureFixture) -> None:
    """The dashboard's search sends its query in the body; a query string anyone puts in a URL is cut
    from the access log line (a phone number, an e-mail address searched for)."""
    caplog.set_level(logging.INFO)
    phone, email = "13812345678", "zhang.wei+kefu@example.com"
    with (
        serve_with(ServerSettings(), log_level="info") as server,
        uvicorn_logs_to(caplog),
        httpx.Client(base_url=server.url) as http,
    ):
        admin = login(http)
        for term in (phone, email):
            found = http.post("/api/v1/admin/conversations/search", json={"q": term}, headers=admin)
            assert found.status_code == 200
            assert http.get("/api/v1/admin/conversations", params={"q": term}, headers=admin).status_code == 400
        assert http.get("/api/v1/chat/abc/messages", params={"after": phone}).status_code in (404, 422)
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert any("POST /api/v1/admin/conversations/search" in line for line in access)
    assert any('"GET /api/v1/admin/conversations HTTP/1.1" 400' in line for line in access), access
    for line in access:
        assert phone not in line and "zhang.wei" not in line and "?" not in line, line
