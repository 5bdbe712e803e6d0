"""Column types shared by the models and the migrations, portable between SQLite and PostgreSQL."""

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# JSONB on PostgreSQL (binary, comparable, indexable), plain JSON text elsewhere. `none_as_null` stores
# Python None as SQL NULL rather than the JSON literal 'null', so `IS NULL` filters mean what they say.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _json_default(value: Any) -> Any:
    # NLU output often holds numpy scalars and arrays (a float32 confidence inside entities, ...).
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps_json(value: Any) -> str:
    """The engine's JSON serializer: numpy values become plain numbers/lists; Chinese text stays readable."""
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime (the only kind the store accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    PostgreSQL keeps the offset (TIMESTAMP WITH TIME ZONE); SQLite has no such type, so values are
    converted to UTC and stored naive there, and UTC is re-attached on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive datetime is ambiguous (local? UTC?); refusing it catches the bug at the caller.
            raise ValueError(f"naive datetime {value.isoformat()} given to a UTC column; pass tzinfo=UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
