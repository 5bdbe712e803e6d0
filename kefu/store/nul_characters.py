"""NUL characters are refused in every value the store sends to the database, on SQLite and PostgreSQL alike.

PostgreSQL cannot hold a NUL (0x00) in text or JSONB and psycopg answers one with a bare DataError,
while SQLite would store it. So one engine listener looks at every bound value before the statement
reaches either database, lookups included (on PostgreSQL an id with a NUL fails like a text does), and
raises `InvalidValueError` naming the column. The HTTP API refuses NUL characters before this point
(kefu.api_models and deps); this is for the Python API and the CLI.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.sql.compiler import Compiled

from kefu.store.errors import InvalidValueError


def refuse_nul_characters(
    _connection: Connection,
    _cursor: Any,
    _statement: str,
    _parameters: Any,
    context: ExecutionContext,
    _executemany: bool,
) -> None:
    """The engine's ``before_cursor_execute`` listener: InvalidValueError for a value holding a NUL."""
    compiled = context.compiled
    if compiled is None:  # SQL the store wrote itself (pragmas, migrations): no caller's values in it
        return
    for parameters in context.compiled_parameters:
        for name, value in parameters.items():
            if _holds_nul(value):
                raise InvalidValueError(
                    f"{_field(compiled, name)} must not contain NUL characters (PostgreSQL cannot store them)"
                )


def _holds_nul(value: Any) -> bool:
    """Whether a bound value has a NUL anywhere: in a string, or in a JSON column's keys and values."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


def _field(compiled: Compiled, name: str) -> str:
    """``table.column`` for a value written, the column alone for one compared in a WHERE clause."""
    bind = compiled.binds.get(name)
    # a compared value's parameter is named like session_id_1; SQLAlchemy keeps the column's name only in
    # the private _orig_key
    column = bind._orig_key if bind is not None else name
    if compiled.isinsert or compiled.isupdate:
        return f"{compiled.statement.table.name}.{column}"
    return column
