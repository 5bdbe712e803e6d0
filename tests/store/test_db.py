"""Store: URL resolution, connection errors, SQLite settings."""

import pytest
from sqlalchemy import text

from kefu.errors import KefuError
from kefu.store import Repository, Store, StoreError
from kefu.store.db import resolve_url


def test_unreachable_database_is_one_line_store_error_without_password():
    store = Store("postgresql://kefu:s3cret@127.0.0.1:1/nowhere")  # nothing listens on port 1
    with pytest.raises(StoreError) as caught:
        store.migrate()
    message = str(caught.value)
    assert isinstance(caught.value, KefuError)
    assert "postgresql+psycopg://kefu:***@127.0.0.1:1/nowhere" in message
    assert "s3cret" not in message and "\n" not in message


def test_sqlite_file_that_cannot_be_opened_is_store_error(tmp_path):
    store = Store(path=tmp_path / "missing-dir" / "kefu.db")
    with pytest.raises(StoreError, match="cannot connect to database sqlite:///.*missing-dir"):
        store.migrate()


def test_invalid_or_unsupported_url_is_store_error():
    with pytest.raises(StoreError, match="invalid database URL"):
        Store("not a url")
    with pytest.raises(StoreError, match="unsupported database mysql://u:\\*\\*\\*@h/db"):
        Store("mysql://u:pw@h/db")
    with pytest.raises(StoreError, match="cannot use database URL postgresql\\+nodriver"):
        Store("postgresql+nodriver://u@h/db")


def test_url_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("KEFU_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_url().database == str(tmp_path / "kefu.db")
    assert resolve_url(path="x.db").database == str(tmp_path / "x.db")
    monkeypatch.setenv("KEFU_DATABASE_URL", "postgres://u@h/db")
    assert resolve_url().drivername == "postgresql+psycopg"  # the env var, with kefu's driver
    assert resolve_url(path="x.db").drivername == "sqlite"  # an explicit path beats the env var
    assert resolve_url("sqlite:///y.db").database == "y.db"


def test_sqlite_connections_are_set_up_for_several_workers(tmp_path):
    store = Store(path=tmp_path / "kefu.db", busy_timeout_ms=1234)
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 1234
    assert "kefu.db" in repr(store)
    store.dispose()


def test_database_without_schema_is_store_error(db_url):
    repo = Repository(Store(db_url))
    with pytest.raises(StoreError, match="not initialised.*run Store.migrate"):
        repo.get_or_create_conversation(None)
    repo.store.dispose()
