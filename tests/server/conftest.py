"""A real uvicorn server on 127.0.0.1 (free port, in a thread) serving the tiny project, per test.

Storage-touching tests take the ``backend`` parameter and run on SQLite and on PostgreSQL
($KEFU_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test; each run works in
its own schema, dropped afterwards, as tests/store does). PostgreSQL tests are skipped with the reason
when the server cannot be reached.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from kefu.project.settings import ServerSettings
from tests.support.project import one_torch_thread
from tests.support.server import ADMIN_PASSWORD, TEST_SECRET, RunningServer, start_server
from tests.support.store import POSTGRES_URL, emptied, migrated_schema, sqlite_copy


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def _server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known admin password and signing secret (nothing written into the shared project)."""
    monkeypatch.setenv("KEFU_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("KEFU_SECRET", TEST_SECRET)
    monkeypatch.delenv("KEFU_DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """A migrated schema of its own for the session, or a skip naming why PostgreSQL is unavailable."""
    url = make_url(POSTGRES_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as error:
        if os.environ.get("KEFU_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL unreachable: {error}")
        pytest.skip(f"PostgreSQL at {url.render_as_string()} unreachable: {str(error).splitlines()[0]}")
    finally:
        engine.dispose()
    with migrated_schema(url) as schema_url:
        yield schema_url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty migrated database: a copied SQLite file, or the session's PostgreSQL schema truncated."""
    if backend == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    return emptied(request.getfixturevalue("postgres_migrated"))


@pytest.fixture()
def server(tiny_project: Path, db_url: str) -> Iterator[RunningServer]:
    """The tiny project served over HTTP, on the test's database."""
    with start_server(tiny_project, db_url) as running:
        yield running


@pytest.fixture()
def sqlite_server(tiny_project: Path, sqlite_template: Path, tmp_path: Path) -> Iterator[RunningServer]:
    """For tests whose subject is not storage: SQLite only."""
    with start_server(tiny_project, sqlite_copy(sqlite_template, tmp_path)) as running:
        yield running


@pytest.fixture()
def serve_with(tiny_project: Path, sqlite_template: Path, tmp_path: Path):
    """Start the tiny project with the given ``server:`` settings (SQLite)."""

    def start(settings: ServerSettings, log_level: str = "warning"):
        return start_server(tiny_project, sqlite_copy(sqlite_template, tmp_path), settings, log_level)

    return start


@pytest.fixture()
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
