"""Fixtures running every store test on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL: $KEFU_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test. Tests
never touch the database's own tables: they work in schemas named `kefu_test_<random>` (selected through
the connection's search_path) that are dropped afterwards, so runs never see each other's tables, twice
in a row or side by side. `db_url` is an empty schema per test (for migration tests); `store` shares one
migrated schema per test session, emptied with TRUNCATE before each test (migrating per test is slow).
SQLite gets a fresh file per test, copied from a migrated template.

If the server is unreachable the PostgreSQL half is skipped with the reason, in the skip message and as
a warning; set KEFU_TEST_REQUIRE_POSTGRES=1 to make that a failure instead (CI).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from kefu.store import Repository, Store
from tests.support.store import (
    CHEAP_HASHER,
    POSTGRES_URL,
    FakeClock,
    emptied,
    migrated_schema,
    postgres_schema,
    sqlite_copy,
)


@pytest.fixture(scope="session")
def postgres_url() -> URL:
    """The PostgreSQL server URL, or a skip (with the reason) when it cannot be reached."""
    url = make_url(POSTGRES_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as error:
        reason = f"PostgreSQL at {url.render_as_string()} unreachable: {str(error).splitlines()[0]}"
        if os.environ.get("KEFU_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'kefu.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_migrated(postgres_url: URL) -> Iterator[str]:
    """A migrated schema shared by the session's tests."""
    with migrated_schema(postgres_url) as url:
        yield url


@pytest.fixture()
def migrated_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database holding no rows."""
    if backend == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    return emptied(request.getfixturevalue("postgres_migrated"))


@pytest.fixture()
def store(migrated_url: str) -> Iterator[Store]:
    """A store on a migrated, empty database."""
    store = Store(migrated_url)
    yield store
    store.dispose()


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))


@pytest.fixture()
def repo(store: Store) -> Repository:
    """A repository on the real clock."""
    return Repository(store, password_hasher=CHEAP_HASHER)


@pytest.fixture()
def timed_repo(store: Store, clock: FakeClock) -> Repository:
    """A repository on `clock`, for data placed on chosen days."""
    return Repository(store, password_hasher=CHEAP_HASHER, clock=clock)
