"""The Alembic migrations create exactly the schema of the models, on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from kefu.store import Store, StoreError
from kefu.store.db import alembic_config
from kefu.store.models import Base

TABLES = {"users", "conversations", "turns", "handoff_tickets", "reviews", "feedback"}


def test_migrate_on_empty_database(db_url):
    store = Store(db_url)
    assert store.current_revision() is None
    store.migrate()
    assert store.current_revision() == store.head_revision() == "0001"
    assert TABLES <= set(inspect(store.engine).get_table_names())
    store.migrate()  # already at head: nothing to do, no error
    store.dispose()


def test_migration_matches_models(store):
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_constraints_alembic_does_not_compare_also_match(store):
    # compare_metadata ignores CHECK constraints and ON DELETE rules; both matter here (vocabularies and
    # cascading deletes), so compare them from the reflected schema.
    inspector = inspect(store.engine)
    for table in Base.metadata.sorted_tables:
        expected_checks = {c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"}
        assert {c["name"] for c in inspector.get_check_constraints(table.name)} == expected_checks, table.name
        expected_fks = {(fk.parent.name, (fk.ondelete or "").upper()) for fk in table.foreign_keys}
        reflected = {
            (fk["constrained_columns"][0], (fk.get("options", {}).get("ondelete") or "").upper())
            for fk in inspector.get_foreign_keys(table.name)
        }
        assert reflected == expected_fks, table.name


def test_downgrade_to_base_removes_everything(db_url):
    store = Store(db_url)
    store.migrate()
    config = alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not TABLES & set(inspect(store.engine).get_table_names())
    store.migrate()
    assert TABLES <= set(inspect(store.engine).get_table_names())
    store.dispose()


def test_workers_migrating_at_once_do_not_collide(db_url):
    stores = [Store(db_url) for _ in range(3)]
    with ThreadPoolExecutor(max_workers=len(stores)) as pool:
        for job in [pool.submit(store.migrate) for store in stores]:
            job.result()  # re-raises a worker's error here
    assert stores[0].current_revision() == "0001"
    for store in stores:
        store.dispose()


def test_unknown_revision_is_a_store_error(store):
    with pytest.raises(StoreError, match="cannot migrate"):
        store.migrate("nonexistent")
