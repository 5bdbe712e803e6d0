"""Database faults: a locked SQLite file and cut PostgreSQL connections become `DatabaseUnavailable`, whose
public message names no URL or path; a transaction whose connection dropped before COMMIT runs again once,
and one that failed at COMMIT does not."""

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select, text

from kefu.store import DatabaseUnavailable, Store
from kefu.store.models import User

PUBLIC = "the database is busy or unreachable; try again shortly"
USERS = User.__table__


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Another connection holds the SQLite file's write lock (BEGIN IMMEDIATE) until the block ends."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def add_user(db: Connection, username: str) -> None:
    db.execute(insert(USERS).values(username=username, password_hash="x", role="agent"))


def users(store: Store, username: str) -> int:
    with store.connect() as db:
        return db.scalar(select(func.count()).where(USERS.c.username == username))


def cut(store: Store, db: Connection) -> None:
    """Terminate ``db``'s PostgreSQL backend from another connection, and wait until it is gone."""
    pid = db.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with store.engine.connect() as other:
        assert other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()


def test_a_locked_sqlite_file_is_database_unavailable_and_not_retried(sqlite_template: Path, tmp_path: Path):
    path = tmp_path / "kefu.db"
    path.write_bytes(sqlite_template.read_bytes())
    store = Store(path=path, busy_timeout_ms=100)
    runs = []

    def work() -> None:
        runs.append(1)
        with store.begin() as db:
            add_user(db, "mei")

    with write_locked(path), pytest.raises(DatabaseUnavailable) as caught:
        store.retrying(work)
    error = caught.value
    assert runs == [1]  # waiting for the lock again would only double the wait
    assert str(tmp_path) in str(error)  # the operator's message names the file...
    assert error.public == PUBLIC and str(tmp_path) not in error.public  # ...the client's does not
    assert error.reason == "OperationalError (database is locked)"
    assert (error.kind, error.retryable, error.retry_after) == ("busy", False, 1)
    assert store.health() == "failing"  # reads work (WAL), the last write did not
    store.retrying(work)  # the lock is free again
    assert store.health() == "ok" and users(store, "mei") == 1
    store.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_connection_dropped_before_commit_runs_the_transaction_again(store: Store):
    name = f"mei-{uuid.uuid4().hex[:8]}"
    runs = []
    retries = []
    store.faults.listen(runs.append, lambda: retries.append(1))

    def work() -> str:
        runs.append("run")
        with store.begin() as db:
            add_user(db, name)
            if runs.count("run") == 1:
                cut(store, db)
            return db.scalar(select(USERS.c.username).where(USERS.c.username == name))

    assert store.retrying(work) == name
    assert runs == ["run", "dropped", "run"] and retries == [1]
    assert users(store, name) == 1  # the first run's insert died with its connection


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_connection_dropped_at_commit_is_not_retried(store: Store):
    """From the client's side a failed COMMIT may have committed: running the work again could do it twice."""
    name = f"mei-{uuid.uuid4().hex[:8]}"
    runs = []

    def work() -> None:
        runs.append(1)
        with store.begin() as db:
            add_user(db, name)
            cut(store, db)  # the next thing this connection sends is COMMIT

    with pytest.raises(DatabaseUnavailable) as caught:
        store.retrying(work)
    assert runs == [1] and caught.value.retryable is False and caught.value.kind == "dropped"
    assert caught.value.public == PUBLIC
    assert users(store, name) == 0


def test_an_unreachable_postgresql_is_unavailable_without_url_in_public():
    store = Store("postgresql://kefu:s3cret@127.0.0.1:1/nowhere")  # nothing listens on port 1
    with pytest.raises(DatabaseUnavailable) as caught:
        users(store, "mei")
    error = caught.value
    assert "127.0.0.1:1/nowhere" in str(error) and "s3cret" not in str(error)
    assert error.public == PUBLIC and error.kind == "unreachable" and error.retry_after == 5
    assert store.health() == "unavailable"
    store.dispose()
