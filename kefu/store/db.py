"""`Store`: the engine, sessions and migrations for one database URL.

SQLite is the default (a file, `kefu.db` in the working directory); a `postgresql://` URL selects
PostgreSQL through psycopg 3. Several server workers may share one SQLite file: connections use WAL
(readers never block the writer), `busy_timeout` (a writer waits for the lock instead of failing at once)
and foreign keys (SQLite ignores them unless asked). Write transactions begin with `BEGIN IMMEDIATE`, so a
transaction that reads then writes (e.g. "next turn number") holds the write lock from its first read and
cannot interleave with another writer.

A database that is busy or unreachable raises `DatabaseUnavailable` (see kefu.store.faults), and
`Store.retrying` runs a transaction again when its connection dropped before it could commit.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from kefu.store.columns import dumps_json
from kefu.store.errors import DatabaseUnavailable, StoreError
from kefu.store.faults import FaultLog, classify, first_line
from kefu.store.nul_characters import refuse_nul_characters

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_SQLITE_PATH = "kefu.db"
ENV_URL = "KEFU_DATABASE_URL"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# Any constant will do; it only has to be the same in every process that migrates the same database.
_PG_MIGRATION_LOCK = 0x6B656675  # "kefu"
_WRITE = "kefu_write"  # execution option marking the engine whose transactions take the write lock
_PING_TIMEOUT_MS = 2000  # /healthz's read on PostgreSQL; SQLite's read does not wait for the write lock
T = TypeVar("T")
log = logging.getLogger("kefu.store")


def resolve_url(url: str | URL | None = None, path: str | os.PathLike[str] | None = None) -> URL:
    """The database URL to use: `url`, else a SQLite file at `path`, else $KEFU_DATABASE_URL, else kefu.db.

    `postgresql://` and `postgres://` URLs get the psycopg 3 driver, the only PostgreSQL driver kefu ships.
    """
    raw = url
    if raw is None and path is None:
        raw = os.environ.get(ENV_URL) or None
    if raw is None:
        return URL.create("sqlite", database=str(Path(path or DEFAULT_SQLITE_PATH).resolve()))
    try:
        parsed = make_url(raw)
    except ArgumentError:
        # Not echoed back: an unparsable URL might carry a password in an unexpected place.
        raise StoreError(
            "invalid database URL (expected e.g. sqlite:///kefu.db or postgresql://...)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: URL) -> str:
    """The URL as text with the password masked, fit for messages and logs."""
    return url.render_as_string(hide_password=True)


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside the package (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


class Store:
    """One database: engine, session factories and migrations.

    Create one per process and share it between threads; every operation opens its own short session.
    `url=None` uses `path` (a SQLite file) if given, else $KEFU_DATABASE_URL, else `./kefu.db`.
    Nothing connects until the first use; a database that is busy or cannot be reached raises
    `DatabaseUnavailable`, a `StoreError`.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        busy_timeout_ms: int = 5000,
        echo: bool = False,
    ) -> None:
        self.url = resolve_url(url, path)
        self.busy_timeout_ms = busy_timeout_ms
        self.faults = FaultLog()
        if self.url.get_backend_name() not in SUPPORTED_BACKENDS:
            raise StoreError(
                f"unsupported database {safe_url(self.url)}: kefu works with SQLite or PostgreSQL"
            )
        try:
            # pre-ping: a pooled PostgreSQL connection cut by a server restart is replaced, not handed out.
            # hide_parameters: SQLAlchemy's error messages would quote the values, customers' words included.
            self.engine: Engine = create_engine(
                self.url,
                echo=echo,
                pool_pre_ping=not self.is_sqlite,
                json_serializer=dumps_json,
                hide_parameters=True,
            )
        except (NoSuchModuleError, ArgumentError, ImportError) as error:
            raise StoreError(f"cannot use database URL {safe_url(self.url)}: {error}") from None
        event.listen(self.engine, "handle_error", self._on_error)
        event.listen(self.engine, "before_cursor_execute", refuse_nul_characters)
        if self.is_sqlite:
            event.listen(self.engine, "connect", self._on_sqlite_connect)
            event.listen(self.engine, "begin", self._on_sqlite_begin)
        elif self.dialect == "postgresql":
            event.listen(self.engine, "connect", _on_postgres_connect)
        # Same pool, but transactions started through it take SQLite's write lock up front.
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        # expire_on_commit=False: values read in a transaction stay readable after it commits.
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)!r})"

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    # ----------------------------------------------------------------------------------------- sessions

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries only; rolled back on exit (nothing to commit)."""
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction is committed on normal exit and rolled back on an exception."""
        with self._writer() as session, session.begin():
            yield session
        self.faults.succeeded()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection for queries only; rolled back on exit. The hot paths (a chat turn) use Core:
        the ORM's bookkeeping costs several times what SQLite takes to run their statements."""
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A Core connection in a write transaction, taking the write lock up front like :meth:`write`;
        committed on normal exit and rolled back on an exception."""
        with self._write_engine.begin() as connection:
            yield connection
        self.faults.succeeded()

    def retrying(self, work: Callable[[], T]) -> T:
        """``work()``, run once more when its connection dropped before it could commit.

        ``work`` opens its own transactions and changes nothing outside the database, so a second run
        starts from scratch. A failure after COMMIT was sent is not retried: the transaction may have
        happened, and only the client, resending with its message id, can make that safe.
        """
        try:
            return work()
        except DatabaseUnavailable as error:
            if not error.retryable:
                raise
            log.warning("database connection lost, running the transaction again: %s", error.reason)
            self.faults.retried()
        return work()

    def health(self) -> Literal["ok", "failing", "unavailable"]:
        """'unavailable' when a read fails now; 'failing' when reads work but an operation failed within
        the last few seconds and no write has succeeded since (e.g. another process holds SQLite's write
        lock: WAL lets reads through); else 'ok'."""
        try:
            with self.engine.connect() as connection:
                if not self.is_sqlite:
                    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {_PING_TIMEOUT_MS}")
                # a table, not SELECT 1: SQLite must open and read the file, and the schema must exist
                connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except StoreError:
            return "unavailable"
        return "failing" if self.faults.recent() else "ok"

    @property
    def sessionmaker(self) -> sessionmaker[Session]:
        """The factory of write sessions, for callers that manage transactions themselves."""
        return self._writer

    # --------------------------------------------------------------------------------------- migrations

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to `revision` (`alembic upgrade`); safe to call from several workers at once."""
        config = alembic_config()
        try:
            with self._write_engine.begin() as connection:
                if self.dialect == "postgresql":
                    # Serialise concurrent upgrades; released when this transaction ends.
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        except CommandError as error:
            # E.g. the database was migrated by a newer kefu whose revision this version does not know.
            raise StoreError(f"cannot migrate database {safe_url(self.url)}: {error}") from None

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at, or None if it was never migrated."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest revision shipped with this version of kefu."""
        return ScriptDirectory.from_config(alembic_config()).get_current_head()

    def dispose(self) -> None:
        """Close pooled connections (e.g. before a fork, or at shutdown)."""
        self.engine.dispose()

    # ------------------------------------------------------------------------------------------- events

    def _on_sqlite_connect(self, dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _on_sqlite_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL may itself have to wait for another process's lock.
            cursor.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            _ensure_wal(cursor, self.busy_timeout_ms / 1000)
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, far fewer fsyncs
            cursor.execute("PRAGMA secure_delete = ON")  # deleted rows are zeroed, not left in free space
        finally:
            cursor.close()

    @staticmethod
    def _on_sqlite_begin(connection: Any) -> None:
        # A deferred BEGIN would take the write lock only at the first write, so two "read max(seq), insert"
        # transactions could both read the same max; IMMEDIATE takes it at BEGIN. Reads stay deferred.
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def _on_error(self, context: ExceptionContext) -> None:
        # Translated are the failures whose fix is outside the code: a database busy or unreachable (wait,
        # or fix the URL or the server) and one without kefu's tables (run the migrations). Other errors
        # keep SQLAlchemy's own, more precise type.
        original = context.original_exception
        if original is None or context.is_pre_ping:
            return  # a pooled connection found dead on checkout: raising here would stop SQLAlchemy replacing it
        detail = first_line(original)
        if detail.startswith("no such table") or getattr(original, "sqlstate", None) == "42P01":
            raise StoreError(
                f"database {safe_url(self.url)} is not initialised ({detail}); run Store.migrate() first",
                public="the database is not initialised",
            ) from None
        fault = classify(
            original,
            context.dialect.loaded_dbapi,
            sqlite=self.is_sqlite,
            connecting=context.connection is None,
            disconnect=context.is_disconnect,
            in_statement=context.statement is not None,
            where=safe_url(self.url),
        )
        if fault is not None:
            self.faults.failed(fault)
            raise fault from None


def _ensure_wal(cursor: Any, timeout_s: float) -> None:
    """Switch the database file to WAL (a persistent setting, so usually already done).

    The switch needs an exclusive lock and SQLite reports "database is locked" at once, without
    honouring busy_timeout, when another connection holds any lock, as happens when several workers open
    a new file together. So check first, and retry the switch until the busy timeout.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() in ("wal", "memory"):
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _on_postgres_connect(dbapi_connection: Any, _record: Any) -> None:
    # Timestamps are grouped by calendar day in SQL (analytics); that day must be the UTC day on every
    # connection, whatever the server's default time zone.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_connection.autocommit = autocommit
