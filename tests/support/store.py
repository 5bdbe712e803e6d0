"""The database side of the tests: the PostgreSQL server they use, a schema of their own on it, a settable
clock, and reading back everything stored (to find personal data that should be gone)."""

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL

from kefu.store import Store
from kefu.store.models import Base

# Minimal argon2 cost: the tests check behaviour, not hashing strength, and must stay fast.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

POSTGRES_URL = os.environ.get("KEFU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def postgres_schema(server: URL) -> Iterator[str]:
    """A new, empty schema; yields a URL whose connections use it; drops it (and its tables) at exit."""
    schema = f"kefu_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = server.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()



@contextmanager
def migrated_schema(server: URL) -> Iterator[str]:
    """A new schema with every table, as :func:`postgres_schema`: for a session's tests to share."""
    with postgres_schema(server) as url:
        store = Store(url)
        store.migrate()
        store.dispose()
        yield url


def sqlite_copy(template: Path, folder: Path) -> str:
    """The URL of a fresh database in ``folder``: a copy of the migrated SQLite file ``template``."""
    shutil.copyfile(template, folder / "kefu.db")
    return f"sqlite:///{folder / 'kefu.db'}"


def emptied(url: str) -> str:
    """``url`` (a migrated PostgreSQL schema) with every table emptied and its ids restarted at 1. Done
    before each test rather than after, so that the rows of a failed test cannot leak into the next."""
    engine = create_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


class FakeClock:
    """A settable UTC clock for the repository (`repo.clock`)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def stored_texts(store: Store) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every non-null value of every table, read with plain SQL from
    the database's own table list, so a table or column the models do not know is read too. JSON comes
    back as JSON text, whether the driver returns it parsed (PostgreSQL) or as stored (SQLite)."""
    found = []
    with store.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')).mappings():
                for column, value in row.items():
                    if value is not None:
                        if not isinstance(value, str):
                            value = json.dumps(value, ensure_ascii=False, default=str)
                        found.append((table, column, value))
    return found


def _compact(value: str) -> str:
    return re.sub(r"[\s-]", "", value)


def leaks(store: Store, secrets: Iterable[str]) -> list[str]:
    """'table.column: secret' for each secret found in a stored value, also when stored without its spaces
    and dashes (a phone number kept in normalised form)."""
    secrets = list(secrets)
    return [
        f"{table}.{column}: {secret}"
        for table, column, value in stored_texts(store)
        for secret in secrets
        if secret in value or _compact(secret) in _compact(value)
    ]
