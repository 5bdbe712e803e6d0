"""Run the kefu app under a real uvicorn server in a thread, and small HTTP helpers for the tests."""

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kefu.project.settings import ServerSettings
from kefu.server import create_app
from kefu.server.deps import Services
from tests.support.project import WordEmbedder
from tests.support.store import CHEAP_HASHER

ADMIN_PASSWORD = "admin-password-for-tests"
TEST_SECRET = "test-secret-of-at-least-16-bytes"

# The fields of a chat answer (TurnResult) that clients read: the contract and every answer have them
WIDGET_READS = {"session_id", "reply", "intent", "confidence", "entities", "sentiment", "sources", "handoff"}


@dataclass
class RunningServer:
    url: str
    app: FastAPI

    @property
    def services(self) -> Services:
        return self.app.state.services


@contextmanager
def serving(app: FastAPI, log_level: str = "warning", lifespan: str = "off") -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 at a free port until the block ends; yields the base URL.

    The socket is bound here and handed to uvicorn, so no other process can take the port in between.
    ``log_level`` "info" turns on uvicorn's access log. ``lifespan="on"`` runs the app's startup and
    shutdown (the retention job), as ``kefu serve`` does.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # as kefu serve runs it: only the app's server.trusted_proxies decide whom X-Forwarded-For is believed from
    config = uvicorn.Config(app, log_level=log_level, lifespan=lifespan, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def start_server(
    project: Path,
    db_url: str,
    server_settings: ServerSettings | None = None,
    log_level: str = "warning",
    lifespan: str = "off",
) -> Iterator[RunningServer]:
    """``project`` served on ``db_url``; ``server_settings`` replace its kefu.yml ``server:`` section."""
    app = create_app(
        project, db_url, embedder=WordEmbedder(), password_hasher=CHEAP_HASHER, server_settings=server_settings
    )
    try:
        with serving(app, log_level, lifespan) as url:
            yield RunningServer(url, app)
    finally:
        app.state.services.repo.store.dispose()


def login(http: httpx.Client, username: str = "admin", password: str = ADMIN_PASSWORD) -> dict[str, str]:
    """The Authorization header of a freshly signed-in user, signed in as an API client: the dashboard's
    cookies the answer sets are not kept, so requests without the header stay unauthenticated."""
    response = http.post("/api/v1/admin/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def new_agent(http: httpx.Client, admin: dict[str, str], username: str) -> dict[str, str]:
    """Create an agent through the API and sign it in."""
    password = f"{username}-password"
    response = http.post(
        "/api/v1/admin/users", json={"username": username, "password": password}, headers=admin
    )
    assert response.status_code == 201, response.text
    return login(http, username, password)


# The key the answer that started each conversation handed out, by session id: chat() and poll() send it
# back as the widget does
SESSION_KEYS: dict[str, str] = {}


def session_headers(session_id: str | None) -> dict[str, str]:
    key = SESSION_KEYS.get(session_id or "")
    return {"X-Session-Key": key} if key else {}


def chat(http: httpx.Client, text: str, session_id: str | None = None, **fields: object) -> dict:
    """Send a message as the widget does (with the conversation's key); ``fields`` go into the body too."""
    body = {"session_id": session_id, "text": text, **fields}
    response = http.post("/api/v1/chat", json=body, headers=session_headers(session_id))
    assert response.status_code == 200, response.text
    answer = response.json()
    if answer.get("session_key"):
        SESSION_KEYS[answer["session_id"]] = answer["session_key"]
    return answer


def poll(http: httpx.Client, session_id: str, after: int = -1) -> httpx.Response:
    """The widget's poll for the conversation's turns after ``after``, with its key."""
    return http.get(
        f"/api/v1/chat/{session_id}/messages", params={"after": after}, headers=session_headers(session_id)
    )


@contextmanager
def uvicorn_logs_to(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """uvicorn's loggers do not propagate to the root, where caplog listens: hand them its handler too
    (once the server has started: configuring uvicorn's logging replaces their handlers)."""
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(caplog.handler)


def wait_for_job(http: httpx.Client, headers: dict, job_id: str, timeout: float = 120) -> dict:
    """The retrain job once it is no longer running (or as it is after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        job = http.get(f"/api/v1/admin/retrain/{job_id}", headers=headers).json()
        if job["status"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.1)
