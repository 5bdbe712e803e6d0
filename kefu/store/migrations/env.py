"""Alembic environment for kefu's schema.

Run programmatically by `Store.migrate()`, which passes an open connection in
`config.attributes["connection"]`; no alembic.ini is involved. To write a new revision after
changing `kefu/store/models.py`, migrate a scratch database to head and autogenerate against it:

    python -c "from alembic import command; from kefu.store.db import alembic_config as c; \
        cfg = c(); cfg.set_main_option('sqlalchemy.url', 'sqlite:///dev.db'); \
        command.revision(cfg, 'what changed', autogenerate=True)"

SQLite cannot ALTER most things, so migrations run in batch mode there (copy-and-move tables).
"""

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from kefu.store.columns import UTCDateTime
from kefu.store.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render kefu's own column types as plain SQLAlchemy ones, so revisions do not import kefu."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_with(connection: Connection) -> None:
    """Configure the migration context on `connection` and run the pending migrations."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit SQL to stdout instead of executing it (`alembic upgrade --sql`)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate through the caller's connection, or one opened from `sqlalchemy.url`."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    from kefu.store.db import Store  # the Store sets the SQLite pragmas and the PostgreSQL time zone

    store = Store(config.get_main_option("sqlalchemy.url"))
    try:
        with store.engine.begin() as own:
            run_with(own)
    finally:
        store.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
