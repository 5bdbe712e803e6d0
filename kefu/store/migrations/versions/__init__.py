"""Alembic revisions, applied in order by `Store.migrate()`."""
